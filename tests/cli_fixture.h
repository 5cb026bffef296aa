#pragma once
// Shared by the command-line tests: run the mnistlab command, and a small
// synthetic dataset written as IDX files in a fresh folder per test.
#include <gtest/gtest.h>
#include <png.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <vector>

#include "mnistlab/data.h"
#include "mnistlab/rng.h"

namespace mnistlab::test {

namespace fs = std::filesystem;

struct CommandResult {
  int exit_code;
  std::string output;  // stdout, and stderr unless left out
};

// Runs a shell command line; its exit status (-1 when killed) and what it printed.
inline CommandResult run_shell(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  std::array<char, 4096> buffer;
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// Runs the mnistlab command in `cwd` when given (where its default runs/ folder goes).
inline CommandResult run(const std::string& args, bool with_stderr = true, const fs::path& cwd = {}) {
  return run_shell((cwd.empty() ? "" : "cd '" + cwd.string() + "' && ") + std::string(MNISTLAB_CLI) + " " + args +
                   (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

// Class k is a bright 6x6 square at one of ten places; a little noise.
// A run folder's metrics.csv: its rows of numbers, and the header line into *header.
inline std::vector<std::vector<double>> metrics_rows(const fs::path& csv_path, std::string* header = nullptr) {
  std::ifstream csv(csv_path);
  std::string line;
  std::getline(csv, line);
  if (header) *header = line;
  std::vector<std::vector<double>> rows;
  while (std::getline(csv, line)) {
    std::vector<double> row;
    std::stringstream ss(line);
    // An empty cell (an epoch without evaluation) reads as NaN.
    for (std::string cell; std::getline(ss, cell, ',');)
      row.push_back(cell.empty() ? std::numeric_limits<double>::quiet_NaN() : std::stod(cell));
    rows.push_back(row);
  }
  return rows;
}

inline Dataset synthetic(int count, uint64_t seed) {
  Dataset d;
  d.rows = d.cols = 28;
  d.pixels.assign(size_t(count) * 784, 0);
  d.labels.resize(count);
  Rng rng(seed);
  for (int i = 0; i < count; ++i) {
    const int k = i % 10, top = (k / 5) * 12 + 4, left = (k % 5) * 5 + 1;
    d.labels[i] = uint8_t(k);
    for (int p = 0; p < 784; ++p) d.pixels[size_t(i) * 784 + p] = uint8_t(rng.uniform(0, 40));
    for (int r = top; r < top + 6; ++r)
      for (int c = left; c < left + 4; ++c) d.pixels[size_t(i) * 784 + r * 28 + c] = 255;
  }
  return d;
}

// `count` images of side x side, labels i % classes: class k is a bright 2x2
// square at its own place (row-major in steps of 2), on a little noise.
inline Dataset patterned(int count, int classes, int side, uint64_t seed) {
  Dataset d;
  d.rows = d.cols = side;
  const size_t pixels = size_t(side) * size_t(side);
  d.pixels.resize(size_t(count) * pixels);
  d.labels.resize(size_t(count));
  Rng rng(seed);
  for (int i = 0; i < count; ++i) {
    const int k = i % classes, top = k / (side / 2) * 2, left = k % (side / 2) * 2;
    d.labels[size_t(i)] = uint8_t(k);
    uint8_t* image = d.pixels.data() + size_t(i) * pixels;
    for (size_t p = 0; p < pixels; ++p) image[p] = uint8_t(rng.uniform(0, 40));
    for (int r = top; r < top + 2; ++r)
      for (int c = left; c < left + 2; ++c) image[r * side + c] = 255;
  }
  return d;
}

// One split of `d` as an IDX pair named PREFIX-images-idx3-ubyte[SUFFIX] and
// PREFIX-labels-idx1-ubyte[SUFFIX] in `dir`.
inline void write_idx_split(const fs::path& dir, const Dataset& d, const std::string& prefix,
                            const std::string& suffix = "") {
  fs::create_directories(dir);
  write_idx_images(dir / (prefix + "-images-idx3-ubyte" + suffix), IdxImages{int(d.size()), d.rows, d.cols, d.pixels});
  write_idx_labels(dir / (prefix + "-labels-idx1-ubyte" + suffix), d.labels);
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("mnistlab_cli_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write_split(const Dataset& d, const std::string& prefix, const std::string& suffix = "") {
    write_idx_split(dir_ / "data", d, prefix, suffix);
  }
  void write_dataset() {
    write_split(synthetic(400, 1), "train", ".gz");
    write_split(synthetic(100, 2), "t10k");
  }
  std::string data() const { return "--data-dir " + (dir_ / "data").string() + " --out " + (dir_ / "run").string(); }
  // metrics.csv of the run folder dir_/out (metrics_rows).
  std::vector<std::vector<double>> metrics(const std::string& out, std::string* header = nullptr) const {
    return metrics_rows(dir_ / out / "metrics.csv", header);
  }
  fs::path dir_;
};


// A 28x28 RGB PNG: the kind of file the commands must refuse.
inline void write_rgb_png(const fs::path& path) {
  png_image rgb;
  std::memset(&rgb, 0, sizeof rgb);
  rgb.version = PNG_IMAGE_VERSION;
  rgb.width = rgb.height = 28;
  rgb.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> pixels(28 * 28 * 3, 100);
  ASSERT_TRUE(png_image_write_to_file(&rgb, path.c_str(), 0, pixels.data(), 0, nullptr)) << path;
}

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A resumed run ends as the uninterrupted one did: the same weights to the
// byte and the same first `columns` columns of metrics.csv (the rest are timings).
inline void expect_same_run_end(const fs::path& resumed, const fs::path& straight, size_t epochs, size_t columns) {
  const std::string a = read_file(resumed / "last.safetensors"), b = read_file(straight / "last.safetensors");
  ASSERT_GT(a.size(), 1000u);
  EXPECT_TRUE(a == b) << "resumed and uninterrupted runs end with different weights";
  const auto ma = metrics_rows(resumed / "metrics.csv"), mb = metrics_rows(straight / "metrics.csv");
  ASSERT_EQ(ma.size(), epochs);
  ASSERT_EQ(mb.size(), epochs);
  for (size_t e = 0; e < epochs; ++e)
    for (size_t c = 0; c < columns; ++c) EXPECT_EQ(ma[e][c], mb[e][c]) << "epoch " << e + 1 << " column " << c;
  EXPECT_FALSE(fs::exists(resumed / "resume.safetensors"));  // a finished run has nothing to resume
}

// Every file under dir (relative name -> contents): to show nothing changed.
inline std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) files[fs::relative(entry.path(), dir).string()] = read_file(entry.path());
  return files;
}

}  // namespace mnistlab::test
