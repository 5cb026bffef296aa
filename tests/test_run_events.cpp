// The event file of a run, decoded by the independent reader
// (tests/reference/read_events.py: both CRCs of every record, TensorFlow's
// field numbers, PNGs decoded by zlib): the per-epoch scalars equal
// metrics.csv, the picture is a PNG of the picture file's size, and a run
// interrupted by SIGTERM and resumed has every step once.
#include <signal.h>
#include <sys/wait.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli_fixture.h"
#include "mnistlab/png.h"

using namespace mnistlab;
using namespace mnistlab::test;
using json = nlohmann::json;

namespace {

class RunEvents : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    write_dataset();
  }
  // The run folder's one event file ("" when there is none or more than one).
  fs::path event_file(const std::string& out) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir_ / out))
      if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) files.push_back(e.path());
    EXPECT_EQ(files.size(), 1u);
    return files.size() == 1 ? files[0] : fs::path();
  }
  // The records of the run folder's one event file.
  json records(const std::string& out) {
    const fs::path file = event_file(out);
    if (file.empty()) return json::array();
    const std::string command = std::string("/usr/bin/python3 ") + MNISTLAB_READ_EVENTS + " --proto " +
                                MNISTLAB_EVENTS_PROTO + " --protoc " + MNISTLAB_PROTOC + " '" + file.string() +
                                "' 2>&1";
    const CommandResult read = run_shell(command);
    EXPECT_EQ(read.exit_code, 0) << read.output;
    const json j = json::parse(read.output, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << read.output;
    EXPECT_EQ(j.value("partial_tail", -1), 0);
    return j.is_discarded() ? json::array() : j["records"];
  }
  // metrics.csv as column -> values by epoch.
  std::map<std::string, std::vector<double>> csv(const std::string& out) {
    std::string line;
    const auto rows = metrics_rows(dir_ / out / "metrics.csv", &line);
    std::vector<std::string> names;
    std::stringstream header(line);
    for (std::string c; std::getline(header, c, ',');) names.push_back(c);
    std::map<std::string, std::vector<double>> columns;
    for (const auto& row : rows)
      for (size_t i = 0; i < row.size() && i < names.size(); ++i) columns[names[i]].push_back(row[i]);
    return columns;
  }
  // Each per-epoch tag's value at every epoch equals its metrics.csv column.
  void expect_epoch_scalars_match(const json& recs, const std::map<std::string, std::vector<double>>& columns,
                                  const std::map<std::string, std::string>& tag_of_column) {
    std::map<std::string, std::map<int64_t, double>> scalars;
    for (const json& r : recs)
      for (const json& v : r.value("values", json::array()))
        if (v["kind"] == "simple_value") scalars[v["tag"]][r["step"].get<int64_t>()] = v["value"].get<double>();
    for (const auto& [column, tag] : tag_of_column) {
      SCOPED_TRACE(column + " as " + tag);
      const auto& values = columns.at(column);
      ASSERT_EQ(scalars[tag].size(), values.size());
      for (size_t e = 0; e < values.size(); ++e) {
        ASSERT_TRUE(scalars[tag].count(int64_t(e + 1)));
        // metrics.csv keeps 6 decimals (seconds 3, images/s 1); the event a float32.
        const double tolerance = column == "seconds" ? 6e-4 : column == "images_per_s" ? 0.06 : 6e-6;
        EXPECT_NEAR(scalars[tag][int64_t(e + 1)], values[e], tolerance + 1e-6 * std::abs(values[e])) << "epoch " << e + 1;
      }
    }
  }
  // (step, value) of every value tagged `tag`, in file order.
  static std::vector<std::pair<int64_t, json>> tagged(const json& recs, const std::string& tag) {
    std::vector<std::pair<int64_t, json>> found;
    for (const json& r : recs)
      for (const json& v : r.value("values", json::array()))
        if (v["tag"] == tag) found.emplace_back(r["step"].get<int64_t>(), v);
    return found;
  }
  void expect_picture(const json& recs, const std::string& tag, const fs::path& png, size_t epochs) {
    const GrayImage file = read_png_gray(png);
    const auto found = tagged(recs, tag);
    for (const auto& [step, v] : found) {
      EXPECT_EQ(v["kind"], "image");
      EXPECT_EQ(v["png"]["width"], file.width);
      EXPECT_EQ(v["png"]["height"], file.height);
    }
    EXPECT_EQ(found.size(), epochs);
  }
};

}  // namespace

TEST_F(RunEvents, ClassificationScalarsEqualMetricsCsvAndPicturesDecode) {
  auto r = run("train --model baseline --data-dir " + (dir_ / "data").string() +
               " --threads 1 --batch-size 40 --epochs 2 --log-every-steps 4 --out " + (dir_ / "c").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json recs = records("c");
  expect_epoch_scalars_match(recs, csv("c"),
                             {{"train_loss", "loss/train"},
                              {"train_acc", "accuracy/train"},
                              {"test_loss", "loss/test"},
                              {"test_acc", "accuracy/test"},
                              {"seconds", "time/epoch_seconds"},
                              {"images_per_s", "time/images_per_second"}});
  if (fs::exists(dir_ / "c" / "misclassified.png"))
    expect_picture(recs, "misclassified", dir_ / "c" / "misclassified.png", 2);
  std::set<std::string> tags;
  for (const json& r2 : recs)
    for (const json& v : r2.value("values", json::array())) tags.insert(v["tag"].get<std::string>());
  for (const char* tag : {"model/text_summary", "command_line/text_summary", "settings/text_summary", "loss/train_step",
                          "lr", "0.weight", "8.bias"})
    EXPECT_TRUE(tags.count(tag)) << tag;
  // 400 images in batches of 40: 10 steps an epoch, 20 in all; every 4th is logged.
  std::vector<int64_t> train_steps;
  for (const auto& [step, v] : tagged(recs, "loss/train_step")) train_steps.push_back(step);
  EXPECT_EQ(train_steps, (std::vector<int64_t>{4, 8, 12, 16, 20}));
}

TEST_F(RunEvents, DenoisingResumedAfterSigtermHasEveryStepOnce) {
  const std::string recipe = "denoise train --model dae --data-dir " + (dir_ / "data").string() +
                             " --threads 1 --batch-size 50 --epochs 3 --lr-schedule step --step-size 1 --gamma 0.5"
                             " --out " + (dir_ / "d").string();
  auto stopped = run(recipe + " --raise-sigterm-at-step 11");
  ASSERT_EQ(stopped.exit_code, 128 + SIGTERM) << stopped.output;
  // A run killed after its checkpoint would have logged more: append a copy
  // of the last record (step 11's lr) and half a record, as SIGKILL may leave.
  // The resume must cut both off.
  {
    const json before = records("d");
    ASSERT_FALSE(before.empty());
    const auto last = before.back();
    const fs::path file = event_file("d");
    const std::string bytes = read_file(file);
    const std::string record = bytes.substr(last["offset"].get<size_t>(), last["end"].get<size_t>() - last["offset"].get<size_t>());
    std::ofstream(file, std::ios::app | std::ios::binary) << record << record.substr(0, record.size() / 2);
  }
  auto resumed = run("denoise train --resume " + (dir_ / "d").string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const json recs = records("d");
  expect_epoch_scalars_match(recs, csv("d"),
                             {{"train_loss", "loss/train"},
                              {"test_loss", "loss/test"},
                              {"test_psnr", "psnr/test"},
                              {"test_ssim", "ssim/test"}});
  expect_picture(recs, "samples", dir_ / "d" / "samples.png", 3);
  // 400 images in batches of 50: 8 steps an epoch, logged every step; 24 in all, each once.
  std::map<int64_t, int> train_steps, lr_steps;
  for (const auto& [step, v] : tagged(recs, "loss/train_step")) ++train_steps[step];
  for (const auto& [step, v] : tagged(recs, "lr")) {
    ++lr_steps[step];
    // StepLR(step_size=1, gamma=0.5) from 1e-3: halved at each epoch's start, steps 1-8, 9-16, 17-24.
    EXPECT_NEAR(v["value"].get<double>(), 1e-3 * std::pow(0.5, (step - 1) / 8), 1e-9) << "lr at step " << step;
  }
  EXPECT_EQ(lr_steps.size(), 24u);
  for (const auto& [step, count] : lr_steps) EXPECT_EQ(count, 1) << "lr at step " << step;
  ASSERT_EQ(train_steps.size(), 24u);
  for (const auto& [step, count] : train_steps) EXPECT_EQ(count, 1) << "step " << step;
  EXPECT_EQ(train_steps.begin()->first, 1);
  EXPECT_EQ(train_steps.rbegin()->first, 24);
}
