// Every input that once made a fuzz harness fail (fuzz/regressions/TARGET/,
// see fuzz/ and scripts/fuzz.sh) goes through the command that reads such a
// file: it must end with exit 0, or exit 1 and a message naming the file, in
// at most 500 MiB and 5 s. A new finding only needs its file dropped into
// the folder. (The sanitizer suite, scripts/sanitize.sh, runs this test
// too, which is what catches the undefined behaviour some of them caused.)
#include <fstream>
#include <iterator>

#include "cli_fixture.h"
#include "hostile_run.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "mnistlab/safetensors.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

constexpr double kMaxMiB = 500, kMaxSeconds = 5;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::vector<fs::path> findings(const std::string& target) {
  std::vector<fs::path> files;
  const fs::path folder = fs::path(MNISTLAB_FUZZ_REGRESSIONS) / target;
  if (!fs::exists(folder)) return files;  // no finding yet
  for (const auto& e : fs::directory_iterator(folder)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

void expect_clean(const std::vector<std::string>& args, const std::string& names) {
  const Measured m = run_measured(args, 3 * kMaxSeconds);
  EXPECT_EQ(m.signal, 0) << "ended by signal " << m.signal << "\n" << m.output;
  EXPECT_TRUE(m.exit_code == 0 || m.exit_code == 1) << "exit " << m.exit_code << "\n" << m.output;
  if (m.exit_code == 1) {
    EXPECT_NE(m.output.find(names), std::string::npos) << m.output;
  }
  EXPECT_LE(m.peak_mib, kMaxMiB) << m.output;
  EXPECT_LE(m.seconds, kMaxSeconds) << m.output;
}

}  // namespace

TEST_F(Cli, FuzzFindingsEndCleanlyThroughTheCommand) {
  write_dataset();
  Model classifier = parse_model(resolve_model("baseline").text, "baseline");
  classifier.build(0);
  const std::string weights = (dir_ / "baseline.safetensors").string();
  save_state_dict(classifier, weights);
  const std::string data = (dir_ / "data").string();
  int cases = 0;

  for (const fs::path& f : findings("model_file")) {
    SCOPED_TRACE(f.string());
    expect_clean({"summary", f.string()}, f.string());
    // Planned for training at batch 2: every kernel's workspace is allocated.
    expect_clean({"info", "--model", f.string(), "--batch-size", "2"}, f.string());
    ++cases;
  }
  for (const fs::path& f : findings("png")) {
    SCOPED_TRACE(f.string());
    expect_clean({"predict", "--weights", weights, f.string()}, f.string());
    ++cases;
  }
  for (const fs::path& f : findings("safetensors")) {
    SCOPED_TRACE(f.string());
    expect_clean({"eval", "--weights", f.string(), "--data-dir", data}, f.string());
    ++cases;
  }
  for (const fs::path& f : findings("idx")) {
    SCOPED_TRACE(f.string());
    for (const char* as : {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
      const fs::path folder = dir_ / ("idx-" + f.filename().string());
      fs::create_directories(folder);
      for (const auto& e : fs::directory_iterator(dir_ / "data")) fs::copy_file(e.path(), folder / e.path().filename());
      write_bytes(folder / as, read_bytes(f));
      expect_clean({"eval", "--weights", weights, "--data-dir", folder.string()}, as);
      fs::remove_all(folder);
    }
    ++cases;
  }
  // A run-folder input is run.json, "#resume.safetensors", then the checkpoint
  // (fuzz/run_folder.cpp); its findings so far were in the checkpoint.
  for (const fs::path& f : findings("run_folder")) {
    SCOPED_TRACE(f.string());
    const std::string input = read_bytes(f), separator = "\n#resume.safetensors\n";
    const size_t cut = input.find(separator);
    ASSERT_NE(cut, std::string::npos);
    const fs::path checkpoint = dir_ / "resume.safetensors";
    write_bytes(checkpoint, input.substr(cut + separator.size()));
    try {
      for (const auto& [key, tensor] : read_safetensors(checkpoint)) tensor.to_floats();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(checkpoint.string()), std::string::npos) << e.what();
    }
    ++cases;
  }
  EXPECT_GE(cases, 7);  // the findings of issue 14's fuzzing, at least
}

// The findings' messages, checked by hand against the files.
TEST(FuzzFindings, SafetensorsNumbersOutsideTheirTypeAreNamed) {
  const fs::path dir = fs::path(MNISTLAB_FUZZ_REGRESSIONS) / "safetensors";
  const auto message = [](const fs::path& path) -> std::string {
    try {
      read_safetensors(path);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message(dir / "shape-above-int64.safetensors").find("shape holds 1e+20 where an integer in"),
            std::string::npos);
  EXPECT_NE(message(dir / "data-offsets-above-uint64.safetensors").find("data_offsets holds 1e+20"),
            std::string::npos);
}
