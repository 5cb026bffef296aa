// TensorBoard event files, read back by tests/reference/read_events.py: an
// independent reader (Python's protobuf and crc32c, TensorFlow's field
// numbers typed apart from ours, its own PNG decoder). Expected values come
// from what the test wrote and from TensorFlow's definitions, never from the
// writer's output.
#include <crcutil/generic_crc.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>

#include "cli_fixture.h"
#include "mnistlab/error.h"
#include "mnistlab/rng.h"
#include "report/event_file.h"

namespace mnistlab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kDtString = 7;  // tensorflow/core/framework/types.proto

class EventFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("mnistlab_events_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The script's exit code and what it printed (stdout; stderr too when asked).
  static test::CommandResult read_events(const fs::path& file, bool with_stderr = false) {
    const std::string command = std::string("/usr/bin/python3 ") + MNISTLAB_READ_EVENTS + " --proto " +
                                MNISTLAB_EVENTS_PROTO + " --protoc " + MNISTLAB_PROTOC + " '" + file.string() +
                                "'" + (with_stderr ? " 2>&1" : "");
    FILE* pipe = popen(command.c_str(), "r");
    std::string output;
    char buffer[4096];
    while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
    const int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
  }
  // The records as the script decoded them; if it could not, an exception
  // (which ends the test as a failure) says why.
  static json decoded(const fs::path& file) {
    const auto result = read_events(file, false);
    if (result.exit_code != 0) throw std::runtime_error("read_events.py: " + read_events(file, true).output);
    return json::parse(result.output);
  }
  // The one summary value of record i.
  static const json& value(const json& events, size_t i) { return events["records"].at(i)["values"].at(0); }

  fs::path dir_;
};

double now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

TEST_F(EventFileTest, NamedAsSummaryWriterNamesThemInAFolderItCreates) {
  const double before = now();
  const EventFile first = EventFile::create(dir_ / "runs" / "a");
  const EventFile second = EventFile::create(dir_ / "runs" / "a");
  const double after = now();
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  // events.out.tfevents.%010d.<hostname>.<pid>.<counter>
  const std::regex pattern(R"(events\.out\.tfevents\.(\d{10})\.(.+)\.(\d+)\.(\d+))");
  std::smatch a, b;
  const std::string name_a = first.path().filename().string(), name_b = second.path().filename().string();
  ASSERT_TRUE(std::regex_match(name_a, a, pattern)) << name_a;
  ASSERT_TRUE(std::regex_match(name_b, b, pattern)) << name_b;
  EXPECT_EQ(first.path().parent_path(), dir_ / "runs" / "a");
  EXPECT_GE(std::stoll(a[1]), (long long)before);
  EXPECT_LE(std::stoll(a[1]), (long long)after);
  EXPECT_EQ(a[2], host);
  EXPECT_EQ(std::stoi(a[3]), getpid());
  EXPECT_EQ(std::stoi(b[4]), std::stoi(a[4]) + 1);  // the process's counter tells them apart
  EXPECT_TRUE(fs::exists(first.path()) && fs::exists(second.path()));
}

TEST_F(EventFileTest, EveryRecordReadsBackIndependently) {
  const double before = now();
  EventFile file = EventFile::create(dir_);
  file.scalar("loss/train", 0, 2.302585);
  file.scalar("loss/train", 7, 0.125);
  file.scalar("accuracy/test", 7, 97.05);
  GrayImage image{5, 3, {}};
  for (int i = 0; i < 15; ++i) image.pixels.push_back(uint8_t(i * 37 % 256));
  file.image("denoised", 8, image);
  const std::string markdown = "# Run\n**lr** 1e-3, ünïcode, `|` table\n";
  file.text("notes", 9, markdown);
  std::vector<float> values;
  for (int i = 0; i < 1000; ++i) values.push_back(float(std::sin(i * 0.37) * 3 + 0.5));
  file.histogram("conv1.weight", 10, values);
  file.scalar("loss/train", -3, -1e-7);  // negative steps and values go through too
  const double after = now();

  const json events = decoded(file.path());
  const json& records = events["records"];
  ASSERT_EQ(records.size(), 8u);
  EXPECT_EQ(events["partial_tail"], 0);
  EXPECT_EQ(records[0]["file_version"], "brain.Event:2");
  EXPECT_EQ(records[0]["source_writer"], "mnistlab");  // where SummaryWriter's names tensorboard's writer
  for (const json& r : records) {
    EXPECT_GE(r["wall_time"].get<double>(), before - 1e-3);
    EXPECT_LE(r["wall_time"].get<double>(), after + 1e-3);
  }
  EXPECT_EQ(records.back()["end"], file.bytes());
  EXPECT_EQ(fs::file_size(file.path()), file.bytes());

  const int64_t steps[] = {0, 7, 7, 8, 9, 10, -3};
  for (size_t i = 1; i < records.size(); ++i) EXPECT_EQ(records[i]["step"], steps[i - 1]) << i;
  // simple_value is a float32 on the wire.
  const std::pair<const char*, double> scalars[] = {{"loss/train", 2.302585}, {"loss/train", 0.125},
                                                    {"accuracy/test", 97.05}};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(value(events, i + 1)["tag"], scalars[i].first);
    EXPECT_EQ(value(events, i + 1)["kind"], "simple_value");
    EXPECT_EQ(value(events, i + 1)["value"].get<double>(), double(float(scalars[i].second)));
  }
  EXPECT_EQ(value(events, 7)["value"].get<double>(), double(float(-1e-7)));

  const json& img = value(events, 4);
  EXPECT_EQ(img["tag"], "denoised");
  EXPECT_EQ(img["kind"], "image");
  EXPECT_EQ(img["width"], 5);
  EXPECT_EQ(img["height"], 3);
  EXPECT_EQ(img["colorspace"], 3);  // RGB, as add_image makes of a 1-channel image
  EXPECT_EQ(img["png"]["width"], 5);
  EXPECT_EQ(img["png"]["height"], 3);
  EXPECT_EQ(img["png"]["color_type"], 2);  // 8-bit RGB
  std::vector<int> rgb;
  for (const uint8_t p : image.pixels) rgb.insert(rgb.end(), {p, p, p});
  EXPECT_EQ(img["png"]["pixels"].get<std::vector<int>>(), rgb);

  const json& text = value(events, 5);
  EXPECT_EQ(text["tag"], "notes/text_summary");  // as add_text names it
  EXPECT_EQ(text["kind"], "tensor");
  EXPECT_EQ(text["plugin_name"], "text");
  EXPECT_EQ(text["plugin_content"], "");  // TextPluginData{version: 0}
  EXPECT_EQ(text["dtype"], kDtString);
  EXPECT_EQ(text["shape"], json::array({1}));  // add_text's shape
  EXPECT_EQ(text["strings"], json::array({markdown}));
}

// SummaryWriter.add_histogram's default buckets: edges 0 and +-1e-12 * 1.1^k,
// each a double 1.1 times the one before; kept from the empty bucket before
// the first value's to the last value's, bucket i counting the values in
// [limit i-1, limit i). (tests/test_summary_writer_parity.cpp compares
// whole histograms with PyTorch's.)
TEST_F(EventFileTest, HistogramHasSummaryWritersDefaultBuckets) {
  EventFile file = EventFile::create(dir_);
  std::vector<float> values;
  for (int i = 0; i < 1000; ++i) values.push_back(float(std::sin(i * 0.37) * 3 + 0.5));
  values.push_back(0.0f);
  file.histogram("conv1.weight", 10, values);
  const json h = value(decoded(file.path()), 1);
  ASSERT_EQ(h["kind"], "histo");
  EXPECT_EQ(h["tag"], "conv1.weight");
  double low = values[0], high = values[0], sum = 0, sum_squares = 0;
  for (const float v : values) {
    low = std::min(low, double(v));
    high = std::max(high, double(v));
    sum += v;
    sum_squares += double(v) * v;
  }
  EXPECT_EQ(h["min"].get<double>(), low);
  EXPECT_EQ(h["max"].get<double>(), high);
  EXPECT_EQ(h["num"].get<double>(), 1001);
  EXPECT_NEAR(h["sum"].get<double>(), sum, 1e-12 * sum_squares);
  EXPECT_NEAR(h["sum_squares"].get<double>(), sum_squares, 1e-12 * sum_squares);
  const auto limits = h["bucket_limit"].get<std::vector<double>>();
  const auto counts = h["bucket"].get<std::vector<double>>();
  ASSERT_EQ(limits.size(), counts.size());
  ASSERT_GE(limits.size(), 3u);
  EXPECT_EQ(counts[0], 0);  // the empty bucket whose limit is where the values start
  EXPECT_GT(counts[1], 0);
  EXPECT_GT(counts.back(), 0);
  bool crosses_zero = false;
  double total = 0;
  for (size_t k = 1; k < limits.size(); ++k) {
    const double left = limits[k - 1], right = limits[k];
    if (left > 0) {
      EXPECT_EQ(right, left * 1.1) << k;
    }
    if (right < 0) {
      EXPECT_EQ(left, right * 1.1) << k;
    }
    if (left <= 0 && right >= 0) {
      EXPECT_TRUE((left == -1e-12 && right == 0) || (left == 0 && right == 1e-12)) << left << " " << right;
      crosses_zero = true;
    }
    double in = 0;
    for (const float v : values) in += (v >= left && v < right);
    EXPECT_EQ(counts[k], in) << "bucket " << k << ": [" << left << ", " << right << ")";
    total += counts[k];
  }
  EXPECT_TRUE(crosses_zero);
  EXPECT_EQ(total, 1001);
}

TEST_F(EventFileTest, HistogramOfEqualValuesIsOneBucketAndBadValuesAreErrors) {
  EventFile file = EventFile::create(dir_);
  const std::vector<float> same(7, 0.25f);
  file.histogram("bias", 1, same);
  const json h = value(decoded(file.path()), 1);
  EXPECT_EQ(h["bucket"], json::array({0.0, 7.0}));  // the empty one before, then the values'
  const auto limits = h["bucket_limit"].get<std::vector<double>>();
  ASSERT_EQ(limits.size(), 2u);
  EXPECT_LE(limits[0], 0.25);
  EXPECT_LT(0.25, limits[1]);
  EXPECT_EQ(limits[1], limits[0] * 1.1);
  EXPECT_EQ(h["min"], 0.25);

  const uint64_t size = file.bytes();
  const std::vector<float> with_nan = {1.0f, std::nanf(""), 2.0f};
  try {
    file.histogram("fc.weight", 12, with_nan);
    FAIL() << "no error for a NaN";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("histogram 'fc.weight' at step 12: value 1 is"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(file.histogram("fc.weight", 12, std::vector<float>{}), Error);
  EXPECT_EQ(file.bytes(), size);  // nothing written
  EXPECT_EQ(fs::file_size(file.path()), size);
}

// A checkpoint records bytes(); the run goes on, is killed in the middle of a
// record; the resumed run reopens at the recorded size and writes the steps
// after the checkpoint again.
TEST_F(EventFileTest, ReopenDropsWhatCameAfterTheCheckpointAndAPartialRecord) {
  fs::path path;
  uint64_t checkpoint = 0;
  {
    EventFile file = EventFile::create(dir_);
    path = file.path();
    for (int step = 0; step < 3; ++step) file.scalar("loss", step, 1.0 / (step + 1));
    file.flush();
    checkpoint = file.bytes();
    for (int step = 3; step < 5; ++step) file.scalar("loss", step, 100.0 + step);
  }
  // Killed while writing step 4's record.
  fs::resize_file(path, fs::file_size(path) - 5);
  const json killed = decoded(path);
  EXPECT_EQ(killed["records"].size(), 1u + 4u);  // file_version, steps 0-3
  EXPECT_EQ(killed["partial_tail"].get<int>(), int(fs::file_size(path) - killed["records"].back()["end"].get<uint64_t>()));
  EXPECT_GT(killed["partial_tail"].get<int>(), 0);

  EventFile resumed = EventFile::reopen(path, checkpoint);
  EXPECT_EQ(resumed.bytes(), checkpoint);
  EXPECT_EQ(fs::file_size(path), checkpoint);
  for (int step = 3; step < 6; ++step) resumed.scalar("loss", step, 1.0 / (step + 1));
  const json events = decoded(path);
  ASSERT_EQ(events["records"].size(), 1u + 6u);
  EXPECT_EQ(events["partial_tail"], 0);
  EXPECT_EQ(events["records"][0]["file_version"], "brain.Event:2");
  for (int step = 0; step < 6; ++step) {
    EXPECT_EQ(events["records"][step + 1]["step"], step);
    EXPECT_EQ(value(events, step + 1)["value"].get<double>(), double(float(1.0 / (step + 1)))) << step;
  }
  EXPECT_EQ(fs::file_size(path), resumed.bytes());
}

// A record before the checkpoint's size whose data CRC fails is cut off with
// what follows, as a torn one is: appending after it would leave a file
// whose readers stop at the bad record (the audit's resume kept it).
TEST_F(EventFileTest, ReopenCutsARecordWithABadDataCrcAndWhatFollows) {
  fs::path path;
  uint64_t ends[4] = {};
  {
    EventFile file = EventFile::create(dir_);
    path = file.path();
    ends[0] = file.bytes();
    for (int step = 0; step < 3; ++step) {
      file.scalar("loss", step, 1.0 / (step + 1));
      ends[step + 1] = file.bytes();
    }
    file.flush();
  }
  {  // One flipped byte in the data of step 1's record (its 12-byte header left whole).
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(std::streamoff(ends[1] + 14));
    const char c = char(f.get());
    f.seekp(std::streamoff(ends[1] + 14));
    f.put(char(c ^ 0x20));
  }
  EventFile resumed = EventFile::reopen(path, ends[3]);
  EXPECT_EQ(resumed.bytes(), ends[1]);
  EXPECT_EQ(fs::file_size(path), ends[1]);
  for (int step = 1; step < 3; ++step) resumed.scalar("loss", step, 1.0 / (step + 1));
  const json events = decoded(path);
  ASSERT_EQ(events["records"].size(), 1u + 3u) << events.dump();
  EXPECT_EQ(events["partial_tail"], 0);
  for (int step = 0; step < 3; ++step) EXPECT_EQ(events["records"][step + 1]["step"], step);
}

// The file is cut and appended in place: never through a link.
TEST_F(EventFileTest, ReopenRefusesALinkAndLeavesItsTargetAlone) {
  fs::path path;
  uint64_t bytes = 0;
  {
    EventFile file = EventFile::create(dir_);
    path = file.path();
    file.scalar("loss", 0, 1.0);
    bytes = file.bytes();
  }
  const fs::path target = dir_ / "elsewhere";
  fs::rename(path, target);
  fs::create_symlink(target, path);
  const uint64_t size = fs::file_size(target);
  try {
    EventFile::reopen(path, 0);
    FAIL() << "reopened through a symbolic link";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a symbolic link"), std::string::npos) << e.what();
  }
  EXPECT_EQ(fs::file_size(target), size);
  fs::remove(path);
  fs::create_hard_link(target, path);
  EXPECT_THROW(EventFile::reopen(path, bytes), Error);
  EXPECT_EQ(fs::file_size(target), size);
}

TEST_F(EventFileTest, ReopenRefusesASizeThatIsNotTheEndOfARecord) {
  fs::path path;
  uint64_t end = 0;
  {
    EventFile file = EventFile::create(dir_);
    file.scalar("loss", 1, 0.5);
    path = file.path();
    end = file.bytes();
  }
  const auto expect_error = [&](const fs::path& file, uint64_t bytes, const std::string& says) {
    try {
      EventFile::reopen(file, bytes);
      ADD_FAILURE() << "no error for " << bytes << " bytes";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(file.string()), std::string::npos) << message;
      EXPECT_NE(message.find(says), std::string::npos) << message;
    }
  };
  expect_error(path, end - 1, "falls inside the record at byte");
  expect_error(path, 7, "falls inside the record at byte 0");
  expect_error(path, end + 16, "fewer than the");
  expect_error(dir_ / "missing", 0, "cannot open");
  EXPECT_EQ(fs::file_size(path), end);  // untouched
  EXPECT_EQ(decoded(path)["records"].size(), 2u);
}

// A full disk, as a file size limit: the record that does not fit is an
// Error naming the file, and none of it stays behind.
TEST_F(EventFileTest, AWriteThatFailsLeavesOnlyWholeRecords) {
  EventFile file = EventFile::create(dir_);
  file.scalar("loss", 1, 0.5);
  const uint64_t size = file.bytes();
  GrayImage noise{40, 40, {}};
  Rng rng(7);
  for (int i = 0; i < 1600; ++i) noise.pixels.push_back(uint8_t(rng.uniform(0, 256)));
  rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  const auto old_handler = signal(SIGXFSZ, SIG_IGN);  // write() then fails with EFBIG
  rlimit limit = old_limit;
  limit.rlim_cur = size + 100;  // the image's record is larger: a short write, then EFBIG
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  std::string message;
  try {
    file.image("noise", 2, noise);
  } catch (const Error& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old_limit);
  signal(SIGXFSZ, old_handler);
  EXPECT_NE(message.find(file.path().string() + ": cannot write"), std::string::npos) << message;
  EXPECT_EQ(file.bytes(), size);
  EXPECT_EQ(fs::file_size(file.path()), size);
  file.scalar("loss", 3, 0.25);  // and the file goes on
  const json events = decoded(file.path());
  ASSERT_EQ(events["records"].size(), 3u);
  EXPECT_EQ(events["records"][2]["step"], 3);
  EXPECT_EQ(events["partial_tail"], 0);
}

TEST_F(EventFileTest, ReaderDetectsCorruptCrcs) {
  EventFile file = EventFile::create(dir_);
  file.scalar("loss", 1, 0.5);
  file.scalar("loss", 2, 0.25);
  const json events = decoded(file.path());
  ASSERT_EQ(events["records"].size(), 3u);
  const uint64_t second = events["records"][1]["offset"];
  const std::string original = test::read_file(file.path());
  const auto corrupt_at = [&](uint64_t at) {
    std::string bytes = original;
    bytes[at] = char(bytes[at] ^ 0x10);
    const fs::path copy = dir_ / "corrupt";
    std::ofstream(copy, std::ios::binary) << bytes;
    return read_events(copy, true);
  };
  const auto data = corrupt_at(second + 12 + 3);
  EXPECT_EQ(data.exit_code, 1);
  EXPECT_NE(data.output.find("record at byte " + std::to_string(second) + ": data CRC mismatch"), std::string::npos)
      << data.output;
  const auto length = corrupt_at(second + 1);
  EXPECT_EQ(length.exit_code, 1);
  EXPECT_NE(length.output.find("length CRC mismatch"), std::string::npos) << length.output;
}

// One TFRecord around hand-made bytes (the CRC from crcutil as the writer's,
// which the script checks with python3-crc32c).
std::string tfrecord(const std::string& data) {
  static const crcutil::GenericCrc<crcutil::uint64, crcutil::uint64, crcutil::uint64, 4> crc32c(0x82f63b78, 32, true);
  const auto masked = [](const void* p, size_t n) {
    const auto crc = uint32_t(crc32c.CrcDefault(p, n, 0));
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
  };
  std::string out;
  const auto put = [&](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out += char(v >> (8 * i));
  };
  put(data.size(), 8);
  put(masked(out.data(), 8), 4);
  out += data;
  put(masked(data.data(), data.size()), 4);
  return out;
}

// Event{step: 5, summary {value {tag: "x", <field> float 1.5}}} encoded by hand
// from TensorFlow's numbers: Event.step 2, Event.summary 5, Summary.value 1,
// Value.tag 1, Value.simple_value 2 (wire type 5).
std::string scalar_event_by_hand(int value_field) {
  const std::string number("\x00\x00\xc0\x3f", 4);  // 1.5f, little-endian
  const std::string value = std::string("\x0a\x01x", 3) + char(value_field << 3 | 5) + number;
  const std::string summary = std::string(1, '\x0a') + char(value.size()) + value;
  return tfrecord(std::string("\x10\x05", 2) + char(5 << 3 | 2) + char(summary.size()) + summary);
}

TEST_F(EventFileTest, ReaderChecksFieldNumbersAgainstTensorFlows) {
  const fs::path good = dir_ / "good", bad = dir_ / "bad";
  fs::create_directories(dir_);
  std::ofstream(good, std::ios::binary) << scalar_event_by_hand(2);
  std::ofstream(bad, std::ios::binary) << scalar_event_by_hand(3);
  // TensorFlow's bytes decode through our .proto: the numbers agree.
  const json events = decoded(good);
  ASSERT_EQ(events["records"].size(), 1u);
  EXPECT_EQ(events["records"][0]["step"], 5);
  EXPECT_EQ(value(events, 0)["tag"], "x");
  EXPECT_EQ(value(events, 0)["value"], 1.5);
  const auto result = read_events(bad, true);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("field 3 of wire type 5 is not in TensorFlow's Summary.Value"), std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace mnistlab
