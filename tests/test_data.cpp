// IDX files, datasets and the batch loader. Every test writes its own small
// files into a fresh temporary folder; none reads the real datasets.
#include <gtest/gtest.h>
#include <chrono>
#include <zlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/permutation.h"
#include "mnistlab/data.h"
#include "mnistlab/error.h"

namespace {

namespace fs = std::filesystem;
using mnistlab::BatchLoader;
using mnistlab::Dataset;
using mnistlab::IdxImages;

// A fresh folder per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("mnistlab_test_data_") + info->test_suite_name() + "_" + info->name() + "_" +
                       std::to_string(getpid()) + "_" + std::to_string(counter++);
    path_ = fs::temp_directory_path() / name;
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// An IDX header written by hand, independent of write_idx_*.
std::vector<uint8_t> idx_header(uint32_t magic, const std::vector<uint32_t>& dims) {
  std::vector<uint8_t> out;
  auto put = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
  };
  put(magic);
  for (uint32_t d : dims) put(d);
  return out;
}

// The message of the mnistlab::Error that `f` throws ("" and a test failure
// when it throws none).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const mnistlab::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a mnistlab::Error, none was thrown";
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Pixels that differ per image and per position; labels i % 10.
IdxImages sample_images(int count, int rows, int cols) {
  IdxImages img;
  img.count = count;
  img.rows = rows;
  img.cols = cols;
  for (int i = 0; i < count * rows * cols; ++i) img.pixels.push_back(uint8_t((i * 37 + i / 7) % 256));
  return img;
}

std::vector<uint8_t> sample_labels(int count) {
  std::vector<uint8_t> labels;
  for (int i = 0; i < count; ++i) labels.push_back(uint8_t((i * 3) % 10));
  return labels;
}

// A dataset whose 2x2 images say which sample they are: bytes 0 and 1 hold
// the index (low, high), so a batch tells which samples it carries.
Dataset indexed_dataset(int count) {
  Dataset d;
  d.rows = 2;
  d.cols = 2;
  for (int i = 0; i < count; ++i) {
    d.pixels.insert(d.pixels.end(), {uint8_t(i % 256), uint8_t(i / 256), 0, 255});
    d.labels.push_back(uint8_t(i % 10));
  }
  return d;
}

// The sample indices of one epoch, in the loader's order; also checks each
// image's label matches its sample.
std::vector<int> epoch_order(BatchLoader& loader, int epoch, std::vector<int>* batch_sizes = nullptr) {
  loader.start_epoch(epoch);
  int bs = loader.batch_size();
  std::vector<float> images(size_t(bs) * 4);
  std::vector<int32_t> labels(static_cast<size_t>(bs));
  std::vector<int> order;
  for (int n; (n = loader.next(images.data(), labels.data())) > 0;) {
    if (batch_sizes) batch_sizes->push_back(n);
    for (int k = 0; k < n; ++k) {
      int index = int(images[size_t(k) * 4] * 255.0f + 0.5f) + 256 * int(images[size_t(k) * 4 + 1] * 255.0f + 0.5f);
      EXPECT_EQ(labels[size_t(k)], index % 10) << "sample " << index;
      order.push_back(index);
    }
  }
  return order;
}

// ---- IDX round trips ----

TEST(IdxFile, RawRoundTrip) {
  TempDir dir;
  IdxImages img = sample_images(5, 3, 4);
  std::vector<uint8_t> labels = sample_labels(5);
  mnistlab::write_idx_images(dir / "img", img);
  mnistlab::write_idx_labels(dir / "lab", labels);

  // Raw means the exact IDX bytes: header then data.
  std::vector<uint8_t> expected = idx_header(0x803, {5, 3, 4});
  expected.insert(expected.end(), img.pixels.begin(), img.pixels.end());
  EXPECT_EQ(read_bytes(dir / "img"), expected);

  IdxImages back = mnistlab::read_idx_images(dir / "img");
  EXPECT_EQ(back.count, 5);
  EXPECT_EQ(back.rows, 3);
  EXPECT_EQ(back.cols, 4);
  EXPECT_EQ(back.pixels, img.pixels);
  EXPECT_EQ(mnistlab::read_idx_labels(dir / "lab"), labels);
  // No temporary file left beside them.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2);
}

TEST(IdxFile, GzipRoundTrip) {
  TempDir dir;
  IdxImages img = sample_images(7, 28, 28);
  std::vector<uint8_t> labels = sample_labels(7);
  mnistlab::write_idx_images(dir / "img.gz", img);
  mnistlab::write_idx_labels(dir / "lab.gz", labels);

  std::vector<uint8_t> bytes = read_bytes(dir / "img.gz");
  ASSERT_GE(bytes.size(), 2u);
  EXPECT_EQ(bytes[0], 0x1f);  // gzip magic
  EXPECT_EQ(bytes[1], 0x8b);

  IdxImages back = mnistlab::read_idx_images(dir / "img.gz");
  EXPECT_EQ(back.count, 7);
  EXPECT_EQ(back.rows, 28);
  EXPECT_EQ(back.cols, 28);
  EXPECT_EQ(back.pixels, img.pixels);
  EXPECT_EQ(mnistlab::read_idx_labels(dir / "lab.gz"), labels);
}

TEST(IdxFile, FormatComesFromContentNotName) {
  TempDir dir;
  IdxImages img = sample_images(2, 5, 5);
  mnistlab::write_idx_images(dir / "img.gz", img);
  fs::rename(dir / "img.gz", dir / "img");
  EXPECT_EQ(mnistlab::read_idx_images(dir / "img").pixels, img.pixels);
}

TEST(IdxFile, EmptyLabelsRoundTrip) {
  TempDir dir;
  mnistlab::write_idx_labels(dir / "lab", {});
  EXPECT_EQ(read_bytes(dir / "lab"), idx_header(0x801, {0}));
  EXPECT_TRUE(mnistlab::read_idx_labels(dir / "lab").empty());
}

TEST(IdxFile, WriteRejectsInconsistentImages) {
  TempDir dir;
  IdxImages img = sample_images(3, 4, 4);
  img.pixels.pop_back();
  std::string msg = error_of([&] { mnistlab::write_idx_images(dir / "img", img); });
  EXPECT_PRED2(contains, msg, "47");
  EXPECT_PRED2(contains, msg, "48");
  EXPECT_FALSE(fs::exists(dir / "img"));
}

// ---- IDX errors ----

TEST(IdxErrors, TruncatedImages) {
  TempDir dir;
  std::vector<uint8_t> bytes = idx_header(0x803, {10, 28, 28});
  bytes.resize(bytes.size() + 1234, 7);
  write_bytes(dir / "img", bytes);
  std::string msg = error_of([&] { mnistlab::read_idx_images(dir / "img"); });
  EXPECT_PRED2(contains, msg, (dir / "img").string());
  EXPECT_PRED2(contains, msg, "truncated");
  EXPECT_PRED2(contains, msg, "10 images of 28x28 (7840 bytes)");
  EXPECT_PRED2(contains, msg, "holds 1234");
}

TEST(IdxErrors, TruncatedLabels) {
  TempDir dir;
  std::vector<uint8_t> bytes = idx_header(0x801, {100});
  bytes.resize(bytes.size() + 99, 1);
  write_bytes(dir / "lab", bytes);
  std::string msg = error_of([&] { mnistlab::read_idx_labels(dir / "lab"); });
  EXPECT_PRED2(contains, msg, "100 labels (100 bytes)");
  EXPECT_PRED2(contains, msg, "holds 99");
}

TEST(IdxErrors, TruncatedHeader) {
  TempDir dir;
  write_bytes(dir / "img", {0, 0, 8, 3, 0, 0});
  std::string msg = error_of([&] { mnistlab::read_idx_images(dir / "img"); });
  EXPECT_PRED2(contains, msg, (dir / "img").string());
  EXPECT_PRED2(contains, msg, "header");
}

TEST(IdxErrors, EmptyFile) {
  TempDir dir;
  write_bytes(dir / "img", {});
  std::string msg = error_of([&] { mnistlab::read_idx_images(dir / "img"); });
  EXPECT_PRED2(contains, msg, (dir / "img").string());
  EXPECT_PRED2(contains, msg, "empty");
}

TEST(IdxErrors, TruncatedGzipStream) {
  TempDir dir;
  mnistlab::write_idx_images(dir / "img.gz", sample_images(20, 28, 28));
  std::vector<uint8_t> bytes = read_bytes(dir / "img.gz");
  bytes.resize(bytes.size() / 2);
  write_bytes(dir / "img.gz", bytes);
  std::string msg = error_of([&] { mnistlab::read_idx_images(dir / "img.gz"); });
  EXPECT_PRED2(contains, msg, (dir / "img.gz").string());
  EXPECT_PRED2(contains, msg, "truncated: header promises 20 images of 28x28 (15680 bytes)");
  EXPECT_PRED2(contains, msg, "gzip stream ends early");

  // All the data is there but the gzip trailer (CRC and length) is not.
  mnistlab::write_idx_labels(dir / "lab.gz", sample_labels(50));
  bytes = read_bytes(dir / "lab.gz");
  bytes.resize(bytes.size() - 4);
  write_bytes(dir / "lab.gz", bytes);
  msg = error_of([&] { mnistlab::read_idx_labels(dir / "lab.gz"); });
  EXPECT_PRED2(contains, msg, (dir / "lab.gz").string() + ": truncated gzip stream");
}

TEST(IdxErrors, CorruptGzipStream) {
  TempDir dir;
  mnistlab::write_idx_labels(dir / "lab.gz", sample_labels(5000));
  std::vector<uint8_t> bytes = read_bytes(dir / "lab.gz");
  ASSERT_GT(bytes.size(), 40u);
  // Damage the stored CRC-32 (the gzip trailer's first 4 bytes): the data
  // inflates fine but no longer matches its checksum.
  bytes[bytes.size() - 8] ^= 0xff;
  write_bytes(dir / "lab.gz", bytes);
  std::string msg = error_of([&] { mnistlab::read_idx_labels(dir / "lab.gz"); });
  EXPECT_PRED2(contains, msg, (dir / "lab.gz").string());
  EXPECT_PRED2(contains, msg, "corrupt gzip stream");
  EXPECT_PRED2(contains, msg, "incorrect data check");  // zlib's own words
}

TEST(IdxErrors, LabelsFileGivenAsImages) {
  TempDir dir;
  mnistlab::write_idx_labels(dir / "lab", sample_labels(4));
  std::string msg = error_of([&] { mnistlab::read_idx_images(dir / "lab"); });
  EXPECT_PRED2(contains, msg, (dir / "lab").string());
  EXPECT_PRED2(contains, msg, "magic number 0x00000801");
  EXPECT_PRED2(contains, msg, "expected 0x00000803 (IDX images)");
}

TEST(IdxErrors, ImagesFileGivenAsLabels) {
  TempDir dir;
  mnistlab::write_idx_images(dir / "img.gz", sample_images(2, 3, 3));
  std::string msg = error_of([&] { mnistlab::read_idx_labels(dir / "img.gz"); });
  EXPECT_PRED2(contains, msg, "magic number 0x00000803");
  EXPECT_PRED2(contains, msg, "expected 0x00000801 (IDX labels)");
}

TEST(IdxErrors, NotAnIdxFile) {
  TempDir dir;
  std::string text = "hello, this is not IDX\n";
  write_bytes(dir / "img", std::vector<uint8_t>(text.begin(), text.end()));
  std::string msg = error_of([&] { mnistlab::read_idx_images(dir / "img"); });
  EXPECT_PRED2(contains, msg, "magic number 0x68656c6c");
  EXPECT_PRED2(contains, msg, "not an IDX file");
}

TEST(IdxErrors, TrailingBytes) {
  TempDir dir;
  std::vector<uint8_t> bytes = idx_header(0x801, {3});
  bytes.insert(bytes.end(), {1, 2, 3, 4, 5});
  write_bytes(dir / "lab", bytes);
  std::string msg = error_of([&] { mnistlab::read_idx_labels(dir / "lab"); });
  EXPECT_PRED2(contains, msg, (dir / "lab").string());
  EXPECT_PRED2(contains, msg, "foreign file");
  EXPECT_PRED2(contains, msg, "more bytes follow the 3 data bytes");
}

TEST(IdxErrors, AbsurdDimensions) {
  TempDir dir;
  write_bytes(dir / "zero", idx_header(0x803, {1, 0, 28}));
  std::string msg = error_of([&] { mnistlab::read_idx_images(dir / "zero"); });
  EXPECT_PRED2(contains, msg, (dir / "zero").string());
  EXPECT_PRED2(contains, msg, "image size 0x28");
  EXPECT_PRED2(contains, msg, "1..4096");

  // A huge promise is refused from the header, before any allocation.
  write_bytes(dir / "huge", idx_header(0x803, {60000, 28, 100000}));
  msg = error_of([&] { mnistlab::read_idx_images(dir / "huge"); });
  EXPECT_PRED2(contains, msg, "image size 28x100000");
}

TEST(IdxErrors, HugePromiseIsRefusedFromTheHeader) {
  TempDir dir;
  // 2^31-1 images of 4096x4096 would be 36 PB: refused by the limit on one
  // file's data before anything is read or allocated.
  std::vector<uint8_t> bytes = idx_header(0x803, {0x7fffffff, 4096, 4096});
  bytes.resize(bytes.size() + 10, 0);
  write_bytes(dir / "img", bytes);
  std::string msg = error_of([&] { mnistlab::read_idx_images(dir / "img"); });
  EXPECT_PRED2(contains, msg, "above the limit of 2147483648 bytes per IDX file");
  // Within the limit, a promise the file does not keep is truncation.
  bytes = idx_header(0x803, {1000, 28, 28});
  bytes.resize(bytes.size() + 10, 0);
  write_bytes(dir / "short", bytes);
  msg = error_of([&] { mnistlab::read_idx_images(dir / "short"); });
  EXPECT_PRED2(contains, msg, "truncated");
  EXPECT_PRED2(contains, msg, "holds 10");
}

// A small gzip file that inflates far past the data its header promises
// (a "gzip bomb") is refused at the first byte after the data, not read to
// its end: 3 labels, then 160 gzip members of 64 MiB of zeros each (10 GiB
// inflated, about 10 MB on disk), which zlib reads as one stream.
TEST(IdxErrors, GzipBombStopsAtTheFirstByteAfterTheData) {
  TempDir dir;
  const std::filesystem::path head_path = dir / "head.gz", zeros_path = dir / "zeros.gz", path = dir / "labels.gz";
  gzFile out = gzopen(head_path.c_str(), "wb");
  ASSERT_NE(out, nullptr);
  std::vector<uint8_t> head = idx_header(0x801, {3});
  head.insert(head.end(), {1, 2, 3});
  gzwrite(out, head.data(), unsigned(head.size()));
  gzclose(out);
  out = gzopen(zeros_path.c_str(), "wb9");
  std::vector<uint8_t> zeros(1 << 20, 0);
  for (int i = 0; i < 64; ++i) gzwrite(out, zeros.data(), unsigned(zeros.size()));
  gzclose(out);
  std::vector<uint8_t> bomb = read_bytes(head_path);
  const std::vector<uint8_t> member = read_bytes(zeros_path);
  for (int i = 0; i < 160; ++i) bomb.insert(bomb.end(), member.begin(), member.end());
  write_bytes(path, bomb);
  const auto start = std::chrono::steady_clock::now();
  std::string msg = error_of([&] { mnistlab::read_idx_labels(path); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_PRED2(contains, msg, "foreign file");
  EXPECT_LT(seconds, 1.0);  // reading it to the end took 25 s here (AMD EPYC, 2026)
}

TEST(IdxErrors, MissingFileAndFolderGivenAsFile) {
  TempDir dir;
  std::string msg = error_of([&] { mnistlab::read_idx_labels(dir / "nope"); });
  EXPECT_PRED2(contains, msg, (dir / "nope").string());
  EXPECT_PRED2(contains, msg, "no such file");

  msg = error_of([&] { mnistlab::read_idx_images(dir.path()); });
  EXPECT_PRED2(contains, msg, "is a folder");
}

// ---- Datasets ----

TEST(LoadIdxPair, ReadsMatchingFiles) {
  TempDir dir;
  IdxImages img = sample_images(6, 2, 3);
  mnistlab::write_idx_images(dir / "img", img);
  mnistlab::write_idx_labels(dir / "lab.gz", sample_labels(6));
  Dataset d = mnistlab::load_idx_pair(dir / "img", dir / "lab.gz");
  EXPECT_EQ(d.size(), 6u);
  EXPECT_EQ(d.rows, 2);
  EXPECT_EQ(d.cols, 3);
  EXPECT_EQ(d.image_size(), 6u);
  EXPECT_EQ(d.pixels, img.pixels);
  EXPECT_EQ(d.labels, sample_labels(6));
}

TEST(LoadIdxPair, CountMismatch) {
  TempDir dir;
  mnistlab::write_idx_images(dir / "img", sample_images(5, 2, 2));
  mnistlab::write_idx_labels(dir / "lab", sample_labels(4));
  std::string msg = error_of([&] { mnistlab::load_idx_pair(dir / "img", dir / "lab"); });
  EXPECT_PRED2(contains, msg, "images (5 in " + (dir / "img").string() + ")");
  EXPECT_PRED2(contains, msg, "labels (4 in " + (dir / "lab").string() + ")");
  EXPECT_PRED2(contains, msg, "differ in count");
}

// Labels are any bytes: the classes are as many as the largest label says.
TEST(LoadIdxPair, ClassesFromTheLargestLabel) {
  TempDir dir;
  std::vector<uint8_t> labels = sample_labels(8);
  labels[5] = 12;
  labels[7] = 200;
  mnistlab::write_idx_images(dir / "img", sample_images(8, 2, 2));
  mnistlab::write_idx_labels(dir / "lab", labels);
  const Dataset d = mnistlab::load_idx_pair(dir / "img", dir / "lab");
  EXPECT_EQ(d.num_classes, 201);
  EXPECT_EQ(d.classes_source, "labels 0..200 in " + (dir / "lab").string());
}

TEST(DatasetHead, TakesTheFirstSamples) {
  Dataset d = indexed_dataset(10);
  Dataset h = d.head(3);
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h.rows, 2);
  EXPECT_EQ(h.cols, 2);
  EXPECT_EQ(h.pixels, std::vector<uint8_t>(d.pixels.begin(), d.pixels.begin() + 12));
  EXPECT_EQ(h.labels, std::vector<uint8_t>({0, 1, 2}));
  EXPECT_EQ(d.head(0).size(), 10u);
  EXPECT_EQ(d.head(99).size(), 10u);
  EXPECT_EQ(d.head(99).pixels, d.pixels);
}

// ---- load_split ----

TEST(LoadSplit, MissingFolderMentionsDataDirAndGetData) {
  TempDir dir;
  std::string msg = error_of([&] { mnistlab::load_split(dir / "no-such-data", true); });
  EXPECT_PRED2(contains, msg, (dir / "no-such-data").string());
  EXPECT_PRED2(contains, msg, "no such folder");
  EXPECT_PRED2(contains, msg, "--data-dir DIR");
  EXPECT_PRED2(contains, msg, "scripts/get-data.sh");
}

TEST(LoadSplit, MissingFileNamesTheFolderThePatternAndWhatIsThere) {
  TempDir dir;
  mnistlab::write_idx_images(dir / "train-images-idx3-ubyte", sample_images(3, 2, 2));
  mnistlab::write_idx_labels(dir / "train-labels-idx1-ubyte", sample_labels(3));
  mnistlab::write_idx_images(dir / "t10k-images-idx3-ubyte", sample_images(3, 2, 2));
  std::string msg = error_of([&] { mnistlab::load_split(dir.path(), true); });
  EXPECT_PRED2(contains, msg, dir.path().string() + ": no file matches *t10k-labels-idx1-ubyte[.gz] or "
                              "*test-labels-idx1-ubyte[.gz]; the folder holds t10k-images-idx3-ubyte, "
                              "train-images-idx3-ubyte, train-labels-idx1-ubyte");
  EXPECT_PRED2(contains, msg, "scripts/get-data.sh");
}

TEST(LoadSplit, FindsRawAndGzipNames) {
  TempDir dir;
  IdxImages train = sample_images(4, 3, 3), test = sample_images(2, 3, 3);
  test.pixels[0] = 99;
  mnistlab::write_idx_images(dir / "train-images-idx3-ubyte", train);
  mnistlab::write_idx_labels(dir / "train-labels-idx1-ubyte.gz", sample_labels(4));
  mnistlab::write_idx_images(dir / "t10k-images-idx3-ubyte.gz", test);
  mnistlab::write_idx_labels(dir / "t10k-labels-idx1-ubyte", {9, 8});

  Dataset tr = mnistlab::load_split(dir.path(), true);
  EXPECT_EQ(tr.size(), 4u);
  EXPECT_EQ(tr.pixels, train.pixels);
  EXPECT_EQ(tr.labels, sample_labels(4));
  Dataset te = mnistlab::load_split(dir.path(), false);
  EXPECT_EQ(te.size(), 2u);
  EXPECT_EQ(te.pixels, test.pixels);
  EXPECT_EQ(te.labels, std::vector<uint8_t>({9, 8}));
}

TEST(LoadSplit, PrefersRawWhenBothExist) {
  TempDir dir;
  mnistlab::write_idx_images(dir / "train-images-idx3-ubyte", sample_images(2, 2, 2));
  mnistlab::write_idx_labels(dir / "train-labels-idx1-ubyte", {1, 2});
  mnistlab::write_idx_images(dir / "train-images-idx3-ubyte.gz", sample_images(3, 2, 2));
  mnistlab::write_idx_labels(dir / "train-labels-idx1-ubyte.gz", {3, 4, 5});
  mnistlab::write_idx_images(dir / "t10k-images-idx3-ubyte.gz", sample_images(1, 2, 2));
  mnistlab::write_idx_labels(dir / "t10k-labels-idx1-ubyte.gz", {0});
  Dataset d = mnistlab::load_split(dir.path(), true);
  EXPECT_EQ(d.labels, std::vector<uint8_t>({1, 2}));
}

// ---- BatchLoader ----

TEST(BatchLoader, EveryIndexOncePerEpoch) {
  Dataset d = indexed_dataset(300);
  BatchLoader loader(d, 32, true, 42);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<int> order = epoch_order(loader, epoch);
    ASSERT_EQ(order.size(), 300u) << "epoch " << epoch;
    std::vector<int> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (int i = 0; i < 300; ++i) ASSERT_EQ(sorted[size_t(i)], i) << "epoch " << epoch;
    EXPECT_NE(order, sorted) << "epoch " << epoch << " was not shuffled";
  }
}

TEST(BatchLoader, LastPartialBatchIsKept) {
  Dataset d = indexed_dataset(103);
  BatchLoader loader(d, 10, true, 1);
  EXPECT_EQ(loader.num_batches(), 11u);
  std::vector<int> sizes;
  epoch_order(loader, 0, &sizes);
  std::vector<int> expected(10, 10);
  expected.push_back(3);
  EXPECT_EQ(sizes, expected);

  // After the end, next keeps returning 0.
  std::vector<float> images(40);
  std::vector<int32_t> labels(10);
  EXPECT_EQ(loader.next(images.data(), labels.data()), 0);

  EXPECT_EQ(BatchLoader(d, 103, false, 0).num_batches(), 1u);
  EXPECT_EQ(BatchLoader(d, 500, false, 0).num_batches(), 1u);
  EXPECT_EQ(BatchLoader(d, 1, false, 0).num_batches(), 103u);
}

TEST(BatchLoader, SameSeedAndEpochSameOrder) {
  Dataset d = indexed_dataset(50);
  BatchLoader a(d, 7, true, 123), b(d, 16, true, 123);
  std::vector<int> first = epoch_order(a, 4);
  epoch_order(a, 5);
  EXPECT_EQ(epoch_order(a, 4), first);  // restarting an epoch repeats it
  EXPECT_EQ(epoch_order(b, 4), first);  // and the batch size does not matter
}

TEST(BatchLoader, OtherEpochOrSeedOtherOrder) {
  Dataset d = indexed_dataset(50);
  BatchLoader a(d, 8, true, 123), b(d, 8, true, 124);
  std::vector<int> e0 = epoch_order(a, 0);
  EXPECT_NE(epoch_order(a, 1), e0);
  EXPECT_NE(epoch_order(b, 0), e0);
}

// The orders tests/reference/make_permutation.py computes from the published
// definitions (MT19937-64 written from mt19937-64.c and checked there against
// its authors' output and the C++ standard's; Fisher-Yates from the back
// with rejection sampling); the ctest fixture writes them.
nlohmann::json permutation_reference() {
  const std::string path = std::string(MNISTLAB_REFERENCE_DIR) + "/permutations.json";
  std::ifstream in(path);
  if (!in.good())
    throw std::runtime_error(path + " is missing: run tests/reference/make_permutation.py --out " +
                             MNISTLAB_REFERENCE_DIR + " (the ctest fixture does)");
  return nlohmann::json::parse(in);
}

TEST(BatchLoader, OrderIsPinned) {
  // The shuffle is written out (mt19937_64 + Fisher-Yates) so the order is
  // the same with every standard library; a change here changes every run.
  const nlohmann::json ref = permutation_reference();
  ASSERT_GE(ref["loader"].size(), 5u);
  for (const auto& c : ref["loader"]) {
    const int n = c["n"].get<int>(), epoch = c["epoch"].get<int>();
    const uint64_t seed = c["seed"].get<uint64_t>();
    Dataset d = indexed_dataset(n);
    BatchLoader loader(d, 7, true, seed);
    EXPECT_EQ(epoch_order(loader, epoch), c["order"].get<std::vector<int>>())
        << n << " samples, seed " << seed << ", epoch " << epoch;
  }
}

TEST(SeededShuffle, MatchesIndependentMt19937_64) {
  const nlohmann::json ref = permutation_reference();
  ASSERT_GE(ref["shuffle"].size(), 3u);
  for (const auto& c : ref["shuffle"]) {
    std::vector<uint32_t> values = c["values"].get<std::vector<uint32_t>>();
    const uint64_t seed = c["seed"].get<uint64_t>();
    mnistlab::seeded_shuffle(values, seed);
    EXPECT_EQ(values, c["shuffled"].get<std::vector<uint32_t>>()) << values.size() << " values, seed " << seed;
  }
}

TEST(BatchLoader, NoShuffleIsIdentity) {
  Dataset d = indexed_dataset(23);
  BatchLoader loader(d, 5, false, 99);
  std::vector<int> identity(23);
  for (int i = 0; i < 23; ++i) identity[size_t(i)] = i;
  EXPECT_EQ(epoch_order(loader, 0), identity);
  EXPECT_EQ(epoch_order(loader, 7), identity);
}

TEST(BatchLoader, PixelScaling) {
  Dataset d;
  d.rows = 16;
  d.cols = 16;
  for (int i = 0; i < 256; ++i) d.pixels.push_back(uint8_t(i));
  d.labels = {7};
  BatchLoader loader(d, 4, false, 0);
  std::vector<float> images(4 * 256, -1.0f);
  std::vector<int32_t> labels(4, -1);
  ASSERT_EQ(loader.next(images.data(), labels.data()), 1);
  EXPECT_EQ(images[0], 0.0f);
  EXPECT_EQ(images[255], 1.0f);
  for (int i = 0; i < 256; ++i) EXPECT_EQ(images[size_t(i)], float(i) / 255.0f) << "byte " << i;
  EXPECT_EQ(labels[0], 7);
  EXPECT_EQ(images[256], -1.0f);  // nothing written past the batch
  EXPECT_EQ(labels[1], -1);
}

TEST(BatchLoader, RejectsBadArguments) {
  Dataset d = indexed_dataset(5);
  std::string msg = error_of([&] { BatchLoader(d, 0, true, 0); });
  EXPECT_PRED2(contains, msg, "batch size 0");
  EXPECT_PRED2(contains, error_of([&] { BatchLoader(d, -3, true, 0); }), "batch size -3");
  d.pixels.pop_back();
  EXPECT_PRED2(contains, error_of([&] { BatchLoader(d, 2, true, 0); }), "pixel bytes");
}

TEST(BatchLoader, EmptyDataset) {
  Dataset d;
  d.rows = d.cols = 28;
  BatchLoader loader(d, 8, true, 3);
  EXPECT_EQ(loader.num_batches(), 0u);
  float image = 0;
  int32_t label = 0;
  EXPECT_EQ(loader.next(&image, &label), 0);
}

}  // namespace
