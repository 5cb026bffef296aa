// EventFile's records against PyTorch's own: the test writes an event file
// with scalars, images, texts and histograms, and the calls themselves as
// JSON; tests/reference/summary_writer_messages.py makes the same calls on
// PyTorch 1.13's SummaryWriter (its torch.utils.tensorboard.summary builds
// the messages) and compares the two field by field: the same tags, plugin
// names, tensor shapes, histogram buckets and image pixels. PNG bytes are
// compared decoded, and the histograms' sum_squares to a relative 1e-12
// (PyTorch's comes from BLAS; see the script).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_fixture.h"
#include "mnistlab/rng.h"
#include "report/event_file.h"

namespace mnistlab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class SummaryWriterParity : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("mnistlab_parity_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes each call to `file` and records it in calls_.
  void scalar(EventFile& file, const std::string& tag, int64_t step, double value) {
    file.scalar(tag, step, value);
    calls_.push_back({{"kind", "scalar"}, {"tag", tag}, {"step", step}, {"value", value}});
  }
  void image(EventFile& file, const std::string& tag, int64_t step, const GrayImage& image) {
    file.image(tag, step, image);
    calls_.push_back({{"kind", "image"}, {"tag", tag}, {"step", step}, {"width", image.width},
                      {"height", image.height}, {"pixels", image.pixels}});
  }
  void text(EventFile& file, const std::string& tag, int64_t step, const std::string& text) {
    file.text(tag, step, text);
    calls_.push_back({{"kind", "text"}, {"tag", tag}, {"step", step}, {"text", text}});
  }
  void histogram(EventFile& file, const std::string& tag, int64_t step, const std::vector<float>& values) {
    file.histogram(tag, step, values);
    calls_.push_back({{"kind", "histogram"}, {"tag", tag}, {"step", step}, {"values", values}});
  }

  // An event file of every kind of record, the values chosen to reach the
  // corners: negative steps, float32 rounding, unicode, an empty text,
  // histograms across zero, of one value, of equal values, of values
  // below the smallest bucket edge and beyond the largest.
  fs::path write_every_kind() {
    EventFile file = EventFile::create(dir_);
    scalar(file, "loss/train", 0, 2.302585);
    scalar(file, "accuracy/test", 7, 97.05);  // not a float32: rounds
    scalar(file, "lr", 12, 1e-7);
    scalar(file, "loss/train", -3, -0.125);
    scalar(file, "zero", 1, 0.0);
    scalar(file, "huge", 5, 1e30);

    GrayImage gradient{7, 5, {}};
    for (int i = 0; i < 35; ++i) gradient.pixels.push_back(uint8_t(i * 37 % 256));
    image(file, "misclassified", 1, gradient);
    GrayImage noise{28, 3, {}};
    Rng rng(11);
    for (int i = 0; i < 84; ++i) noise.pixels.push_back(uint8_t(rng.next() % 256));
    image(file, "samples", 2, noise);
    image(file, "dot", 3, GrayImage{1, 1, {255}});

    text(file, "model", 0, "```\nconv 32 3x3\nrelu\n```");
    text(file, "notes", 9, "# Run\n**lr** 1e-3, ünïcode, `|` table\n");
    text(file, "empty", 4, "");

    // Weights-like: 20000 normal values (Box-Muller), a few exactly zero;
    // past numpy's 128-value blocks and 8192-element buffers.
    std::vector<float> weights;
    for (int i = 0; i < 10000; ++i) {
      const double u = 1.0 - rng.uniform(0.0f, 1.0f), v = rng.uniform(0.0f, 1.0f);
      const double r = 0.05 * std::sqrt(-2 * std::log(u));
      weights.push_back(float(r * std::cos(2 * M_PI * v)));
      weights.push_back(i % 997 == 0 ? 0.0f : float(r * std::sin(2 * M_PI * v)));
    }
    histogram(file, "0.weight", 1, weights);
    histogram(file, "0.bias", 1, std::vector<float>{-1.5f, 0.0f, 0.0f, 2.0f, 0.001f, -0.001f, 1e-13f, -1e-13f, 3.0f});
    histogram(file, "constant", 2, std::vector<float>(7, 0.25f));
    histogram(file, "one", 3, std::vector<float>{-3.5f});
    histogram(file, "zeros", 4, std::vector<float>(5, 0.0f));
    // 1e20f is a little above 1e20, as is 3e38f: past the last edge, in no bucket.
    histogram(file, "outliers", 5, std::vector<float>{1e20f, -2e25f, 3e38f, 1.0f, 1e19f, -1e19f});
    return file.path();
  }

  // summary_writer_messages.py on the file and the calls (as given).
  test::CommandResult compare(const fs::path& events, const json& calls) {
    const fs::path calls_file = dir_ / "calls.json";
    std::ofstream(calls_file) << json{{"calls", calls}}.dump();
    return test::run_shell(std::string("/usr/bin/python3 ") + MNISTLAB_SUMMARY_WRITER_MESSAGES + " --events '" +
                           events.string() + "' --calls '" + calls_file.string() + "' --protoc " + MNISTLAB_PROTOC +
                           " 2>&1");
  }

  fs::path dir_;
  json calls_ = json::array();
};

TEST_F(SummaryWriterParity, EveryRecordEqualsSummaryWritersFieldByField) {
  const fs::path events = write_every_kind();
  const auto result = compare(events, calls_);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  // The first record (file_version) and one per call.
  EXPECT_NE(result.output.find(std::to_string(calls_.size() + 1) + " records equal SummaryWriter's field by field"),
            std::string::npos)
      << result.output;
}

// The comparison can fail: the same file against calls with other values
// names each field that differs.
TEST_F(SummaryWriterParity, ADifferentValueIsNamedByTheComparison) {
  const fs::path events = write_every_kind();
  json changed = calls_;
  for (json& call : changed) {
    if (call["tag"] == "accuracy/test") call["value"] = 97.5;
    if (call["tag"] == "dot") call["pixels"] = json::array({254});
    if (call["tag"] == "0.bias") call["values"][0] = -1.25f;
  }
  const auto result = compare(events, changed);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  for (const char* says : {"record 2 at byte", "(scalar 'accuracy/test' at step 7): event.summary.value[0].simple_value: 97.05",
                           "(image 'dot' at step 3): event.summary.value[0].image.encoded_image_string (decoded): pixels",
                           "(histogram '0.bias' at step 1): event.summary.value[0].histo.min: -1.5 != -1.25"})
    EXPECT_NE(result.output.find(says), std::string::npos) << says << "\n" << result.output;
}

}  // namespace
}  // namespace mnistlab
