// --label-smoothing and --tta in a training run: recorded in run.json and
// kept by --resume (the resumed run ends as the uninterrupted one), checked
// when run.json is read back, refused where they make no sense.
#include <signal.h>

#include <nlohmann/json.hpp>

#include "cli_fixture.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

class ClassificationRun : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    write_dataset();
    std::ofstream(dir_ / "net.model") << "input 1 28 28\nconv 6 k=3 s=2 p=1\nrelu\nflatten\nlinear 10\n";
  }
  std::string train(const std::string& out, const std::string& more) {
    return "train --model " + (dir_ / "net.model").string() + " --data-dir " + (dir_ / "data").string() +
           " --threads 1 --batch-size 32 --out " + (dir_ / out).string() + " " + more;
  }
  // A copy of the interrupted run `from` with run.json's `key` set to `value`; --resume must refuse it.
  void expect_resume_refused(const std::string& from, const std::string& key, const nlohmann::json& value,
                             const std::string& said) {
    const fs::path copy = dir_ / "copy";
    fs::remove_all(copy);
    fs::copy(dir_ / from, copy);
    auto j = nlohmann::json::parse(read_file(copy / "run.json"));
    j[key] = value;
    std::ofstream(copy / "run.json") << j.dump(2);
    auto r = run("train --resume " + copy.string());
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find((copy / "run.json").string() + ": " + said), std::string::npos) << r.output;
  }
};

}  // namespace

TEST_F(ClassificationRun, SmoothingAndFlipsAreRecordedAndSurviveAResume) {
  const std::string recipe = "--dataset fashion --epochs 2 --lr 0.01 --seed 4 --label-smoothing 0.2 --tta";
  // 400 images in batches of 32: 13 steps per epoch, so step 17 is inside epoch 2.
  auto stopped = run(train("a", recipe + " --raise-sigterm-at-step 17"));
  ASSERT_EQ(stopped.exit_code, 128 + SIGTERM) << stopped.output;
  const auto settings = nlohmann::json::parse(read_file(dir_ / "a" / "run.json"));
  EXPECT_FLOAT_EQ(settings.at("label_smoothing").get<float>(), 0.2f);
  EXPECT_EQ(settings.at("tta"), true);

  expect_resume_refused("a", "label_smoothing", 1, "\"label_smoothing\" is 1; expected a number in [0, 1)");
  expect_resume_refused("a", "tta", "yes", "\"tta\" is \"yes\"; expected true or false");
  expect_resume_refused("a", "dataset", "mnist", "--tta (each image averaged with its horizontal flip): a mirrored digit");

  auto resumed = run("train --resume " + (dir_ / "a").string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto straight = run(train("b", recipe));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  // train_loss is the smoothed loss: a resume without smoothing would differ there.
  expect_same_run_end(dir_ / "a", dir_ / "b", 2, 5);
  EXPECT_NE(read_file(dir_ / "b" / "report.txt").find("averaged over the image and its horizontal flip"),
            std::string::npos);

  // Without the options the same recipe trains another way and says so in run.json.
  auto plain = run(train("c", "--dataset fashion --epochs 2 --lr 0.01 --seed 4"));
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  const auto plain_settings = nlohmann::json::parse(read_file(dir_ / "c" / "run.json"));
  EXPECT_EQ(plain_settings.at("label_smoothing"), 0.0);
  EXPECT_EQ(plain_settings.at("tta"), false);
  EXPECT_NE(metrics_rows(dir_ / "c" / "metrics.csv")[0][1], metrics_rows(dir_ / "b" / "metrics.csv")[0][1]);
}

TEST_F(ClassificationRun, TestTimeCropsAreForDigitsTooAndRecorded) {
  // --dataset mnist; step 17 is inside epoch 2 (13 steps per epoch).
  auto stopped = run(train("t", "--epochs 2 --lr 0.01 --tta-crops 1 --raise-sigterm-at-step 17"));
  ASSERT_EQ(stopped.exit_code, 128 + SIGTERM) << stopped.output;
  EXPECT_EQ(nlohmann::json::parse(read_file(dir_ / "t" / "run.json")).at("tta_crops"), 1);
  expect_resume_refused("t", "tta_crops", 9, "\"tta_crops\" is 9; expected an integer from 0 to 8");
  auto resumed = run("train --resume " + (dir_ / "t").string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(read_file(dir_ / "t" / "report.txt").find("(softmax averaged over FiveCrop with padding 1)"),
            std::string::npos);
  for (const char* bad : {"--tta-crops 9", "--tta-crops -1", "--tta-crops x"}) {
    auto refused = run(train("u", bad));
    EXPECT_NE(refused.exit_code, 0) << bad;
    EXPECT_NE(refused.output.find("--tta-crops"), std::string::npos) << bad << ": " << refused.output;
  }
}

TEST_F(ClassificationRun, OptionsAreRefusedWhereTheyMakeNoSense) {
  auto mnist = run(train("m", "--tta"));  // --dataset mnist is the default
  EXPECT_EQ(mnist.exit_code, 1) << mnist.output;
  EXPECT_NE(mnist.output.find("a mirrored digit is not the same digit"), std::string::npos) << mnist.output;
  EXPECT_FALSE(fs::exists(dir_ / "m")) << "refused before the run folder is made";

  for (const char* bad : {"--label-smoothing 1", "--label-smoothing -0.1", "--label-smoothing x"}) {
    auto r = run(train("s", bad));
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_NE(r.output.find("--label-smoothing"), std::string::npos) << bad << ": " << r.output;
  }
  // Denoising has no classes to smooth and scores no flips.
  for (const char* option : {"--label-smoothing 0.1", "--tta", "--tta-crops 2"}) {
    auto r = run("denoise train --data-dir " + (dir_ / "data").string() + " --out " + (dir_ / "d").string() + " " +
                 option);
    EXPECT_NE(r.exit_code, 0) << option;
    EXPECT_NE(r.output.find(std::string(option).substr(0, std::string(option).find(' '))), std::string::npos)
        << option << ": " << r.output;
  }
}
