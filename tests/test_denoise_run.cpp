// A denoising run has everything a classification run has (one loop, one
// run folder): SIGTERM mid-epoch and --resume end with the same weights as
// an uninterrupted run, LR schedules, early stopping on PSNR or loss, and a
// validation split that picks the epoch. dae-unet on small synthetic data.
#include <signal.h>

#include "cli_fixture.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

class DenoiseRun : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    write_dataset();
  }
  std::string train(const std::string& out, const std::string& more) {
    return "denoise train --model dae-unet --data-dir " + (dir_ / "data").string() +
           " --threads 1 --batch-size 50 --noise gaussian --noise-amount 0.3 --out " + (dir_ / out).string() + " " +
           more;
  }
};

}  // namespace

TEST_F(DenoiseRun, SigtermMidEpochThenResumeEndsWithTheSameWeights) {
  const std::string recipe = "--epochs 3 --lr 0.003 --lr-schedule cosine --warmup-epochs 0.5 --seed 3 --augment crop=1,hflip";
  // 400 images in batches of 50: 8 steps per epoch, so step 11 is inside epoch 2.
  auto stopped = run(train("a", recipe + " --raise-sigterm-at-step 11"));
  EXPECT_EQ(stopped.exit_code, 128 + SIGTERM) << stopped.output;
  EXPECT_NE(stopped.output.find("interrupted by SIGTERM at epoch 2, batch 3"), std::string::npos) << stopped.output;
  EXPECT_NE(stopped.output.find("mnistlab denoise train --resume " + (dir_ / "a").string()), std::string::npos)
      << stopped.output;
  EXPECT_TRUE(fs::exists(dir_ / "a" / "resume.safetensors"));

  auto resumed = run("denoise train --resume " + (dir_ / "a").string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming"), std::string::npos);
  auto straight = run(train("b", recipe));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;

  expect_same_run_end(dir_ / "a", dir_ / "b", 3, 5);
  for (const char* file : {"report.txt", "samples.png", "best.safetensors", "run.json"})
    EXPECT_TRUE(fs::exists(dir_ / "a" / file)) << file;
}

TEST_F(DenoiseRun, EarlyStoppingOnLossStopsAndKeepsTheBestEpoch) {
  // A rate this high makes the loss jump about (or diverge); patience 1 stops the run.
  auto r = run(train("s", "--epochs 8 --train-limit 100 --lr 10 --optimizer sgd --early-stop-patience 1 "
                          "--early-stop-metric test_loss"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto m = metrics("s");
  ASSERT_GE(m.size(), 2u);
  ASSERT_LT(m.size(), 8u) << r.output;
  // The stop came one epoch after the lowest test loss (column 2), and the report names that epoch.
  size_t best = 0;
  for (size_t e = 1; e < m.size(); ++e)
    if (m[e][2] < m[best][2]) best = e;
  EXPECT_EQ(best + 2, m.size());
  const std::string report = read_file(dir_ / "s" / "report.txt");
  EXPECT_NE(report.find("stopped early"), std::string::npos) << report;
  EXPECT_NE(report.find("weights below: epoch " + std::to_string(best + 1) + " (best.safetensors)"),
            std::string::npos)
      << report;
}

TEST_F(DenoiseRun, ValidationSplitChoosesTheEpochByPsnr) {
  std::string header;
  auto r = run(train("v", "--epochs 2 --val-split 0.25"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto m = metrics("v", &header);
  EXPECT_EQ(header, "epoch,train_loss,val_loss,val_psnr,val_ssim,seconds,images_per_s");
  ASSERT_EQ(m.size(), 2u);
  const size_t best = m[1][3] > m[0][3] ? 1 : 0;
  const std::string report = read_file(dir_ / "v" / "report.txt");
  EXPECT_NE(report.find("300 train / 100 validation / 100 test images"), std::string::npos) << report;
  EXPECT_NE(report.find("best epoch by val_psnr: " + std::to_string(best + 1)), std::string::npos) << report;
}

TEST_F(DenoiseRun, UnknownEarlyStoppingMetricIsRefusedBeforeAnythingIsWritten) {
  auto r = run(train("x", "--epochs 1 --early-stop-metric acc"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("early-stopping metric 'acc' is not one of denoising's: loss, psnr, ssim"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "x"));
}
