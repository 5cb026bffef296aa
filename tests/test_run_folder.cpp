// What a training run leaves and how it is reused: resume after SIGTERM,
// early stopping with the best epoch's weights, the validation split,
// curves.png and report.txt, eval and predict, and clear errors for bad
// weights files. All on small synthetic data the tests write.
#include <png.h>

#include <cstring>

#include "cli_fixture.h"
#include "mnistlab/png.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

// BatchNorm (running statistics), Dropout (random masks) and Adam state all
// have to survive an interruption for the weights to come out the same.
const char* kNet = "input 1 28 28\nconv 6 k=3 s=2 p=1\nbatchnorm\nrelu\ndropout p=0.2\nflatten\nlinear 10\n";

class RunFolder : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    write_dataset();
    std::ofstream(dir_ / "net.model") << kNet;
  }
  std::string train(const std::string& out, const std::string& more) {
    return "train --model " + (dir_ / "net.model").string() + " --data-dir " + (dir_ / "data").string() +
           " --threads 1 --batch-size 32 --out " + (dir_ / out).string() + " " + more;
  }
  std::vector<std::vector<double>> metrics(const std::string& out, std::string* header = nullptr) {
    std::ifstream csv(dir_ / out / "metrics.csv");
    std::string line;
    std::getline(csv, line);
    if (header) *header = line;
    std::vector<std::vector<double>> rows;
    while (std::getline(csv, line)) {
      std::vector<double> row;
      std::stringstream ss(line);
      for (std::string cell; std::getline(ss, cell, ',');) row.push_back(std::stod(cell));
      rows.push_back(row);
    }
    return rows;
  }
};

}  // namespace

TEST_F(RunFolder, SigtermMidEpochThenResumeEndsWithTheSameWeights) {
  const std::string recipe = "--epochs 3 --lr 0.01 --lr-schedule onecycle --seed 5";
  // 400 images in batches of 32: 13 steps per epoch, so step 20 is inside epoch 2.
  auto stopped = run(train("a", recipe + " --raise-sigterm-at-step 20"));
  EXPECT_EQ(stopped.exit_code, 128 + 15) << stopped.output;
  EXPECT_NE(stopped.output.find("interrupted by SIGTERM at epoch 2, batch 7"), std::string::npos) << stopped.output;
  EXPECT_NE(stopped.output.find("mnistlab train --resume " + (dir_ / "a").string()), std::string::npos);
  EXPECT_EQ(metrics("a").size(), 1u);

  // Starting afresh over an interrupted run would lose it.
  auto refused = run(train("a", recipe));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("--resume"), std::string::npos) << refused.output;

  auto resumed = run("train --resume " + (dir_ / "a").string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming"), std::string::npos);
  auto straight = run(train("b", recipe));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;

  const std::string a = read_file(dir_ / "a" / "last.safetensors"), b = read_file(dir_ / "b" / "last.safetensors");
  ASSERT_GT(a.size(), 1000u);
  EXPECT_TRUE(a == b) << "resumed and uninterrupted runs end with different weights";
  const auto ma = metrics("a"), mb = metrics("b");
  ASSERT_EQ(ma.size(), 3u);
  ASSERT_EQ(mb.size(), 3u);
  for (size_t e = 0; e < 3; ++e)
    for (size_t c = 0; c < 5; ++c) EXPECT_EQ(ma[e][c], mb[e][c]) << "epoch " << e + 1 << " column " << c;
  EXPECT_FALSE(fs::exists(dir_ / "a" / "resume.safetensors"));  // a finished run has nothing to resume
}

TEST_F(RunFolder, EarlyStoppingEndsWithTheBestEpochsWeights) {
  // The synthetic classes are easy: the test accuracy stops improving within a few epochs.
  auto r = run(train("run", "--epochs 30 --lr 0.01 --early-stop-patience 1"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = metrics("run");
  ASSERT_LT(rows.size(), 30u) << r.output;
  EXPECT_NE(r.output.find("stopped early after epoch " + std::to_string(rows.size())), std::string::npos) << r.output;
  // The best epoch from the CSV alone: the first with the highest test accuracy.
  size_t best = 0;
  for (size_t e = 1; e < rows.size(); ++e)
    if (rows[e][4] > rows[best][4]) best = e;
  EXPECT_EQ(rows.size(), best + 2) << "patience 1: one epoch without improvement, then stop";
  const std::string report = read_file(dir_ / "run" / "report.txt");
  EXPECT_NE(report.find("best epoch by test_acc: " + std::to_string(best + 1)), std::string::npos) << report;
  // best.safetensors, evaluated on its own, gives the best row's accuracy.
  auto eval = run("eval --model " + (dir_ / "net.model").string() + " --weights " +
                  (dir_ / "run" / "best.safetensors").string() + " --data-dir " + (dir_ / "data").string());
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  double loss = 0, acc = 0;
  ASSERT_EQ(std::sscanf(eval.output.c_str(), "test_loss %lf test_acc %lf", &loss, &acc), 2) << eval.output;
  EXPECT_NEAR(acc, rows[best][4], 1e-6);
  EXPECT_NEAR(loss, rows[best][3], 1e-5);
  char expected[64];
  std::snprintf(expected, sizeof expected, "test_acc %.6f", acc);
  EXPECT_NE(report.find(expected), std::string::npos) << "the report is about the best weights:\n" << report;
}

TEST_F(RunFolder, ValidationSplitChoosesTheEpochAndUsesTheTestSetOnce) {
  auto r = run(train("run", "--epochs 2 --val-split 0.25"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string header;
  metrics("run", &header);
  EXPECT_EQ(header, "epoch,train_loss,train_acc,val_loss,val_acc,seconds");
  EXPECT_NE(r.output.find("300 train / 100 val images"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the test set's only use"), std::string::npos) << r.output;
  EXPECT_NE(read_file(dir_ / "run" / "report.txt").find("300 train / 100 validation / 100 test"), std::string::npos);
}

TEST_F(RunFolder, CurvesPngAndReportWithClassNames) {
  auto r = run(train("run", "--epochs 2 --dataset fashion"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("warning"), std::string::npos) << r.output;
  const GrayImage png_check = [&] {
    // curves.png is RGB; only check that it is a real PNG of the size the script asks for.
    png_image image;
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    const std::string path = (dir_ / "run" / "curves.png").string();
    EXPECT_TRUE(png_image_begin_read_from_file(&image, path.c_str())) << path;
    GrayImage g;
    g.width = int(image.width);
    g.height = int(image.height);
    png_image_free(&image);
    return g;
  }();
  EXPECT_EQ(png_check.width, 1280);
  EXPECT_EQ(png_check.height, 520);
  const std::string report = read_file(dir_ / "run" / "report.txt");
  for (const char* name : {"T-shirt/top", "Trouser", "Ankle boot", "confusion matrix"})
    EXPECT_NE(report.find(name), std::string::npos) << name << "\n" << report;
  // The confusion matrix accounts for every test image: its counts sum to 100.
  const size_t at = report.find("predicted class)\n");
  ASSERT_NE(at, std::string::npos);
  std::stringstream rows(report.substr(report.find('\n', at + 17) + 1));
  long total = 0;
  for (std::string line; std::getline(rows, line);) {
    std::stringstream cells(line.substr(14));
    for (long v; cells >> v;) total += v;
  }
  EXPECT_EQ(total, 100);
}

TEST_F(RunFolder, PredictClassifiesPngsAndRejectsOthers) {
  ASSERT_EQ(run(train("run", "--epochs 4")).exit_code, 0);
  const Dataset test = synthetic(20, 9);
  GrayImage image{28, 28, {}};
  image.pixels.assign(test.pixels.begin() + 3 * 784, test.pixels.begin() + 4 * 784);  // label 3
  write_png_gray(dir_ / "three.png", image);
  const std::string use =
      "predict --model " + (dir_ / "net.model").string() + " --weights " + (dir_ / "run" / "last.safetensors").string();
  auto r = run(use + " " + (dir_ / "three.png").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind((dir_ / "three.png").string() + ": 3 ", 0), 0u) << r.output;

  write_png_gray(dir_ / "small.png", GrayImage{14, 14, std::vector<uint8_t>(196, 0)});
  auto small = run(use + " " + (dir_ / "small.png").string());
  EXPECT_NE(small.exit_code, 0);
  EXPECT_NE(small.output.find("is 14x14; expected 28x28"), std::string::npos) << small.output;

  std::ofstream(dir_ / "fake.png") << "GIF89a";
  auto fake = run(use + " " + (dir_ / "fake.png").string());
  EXPECT_NE(fake.exit_code, 0);
  EXPECT_NE(fake.output.find("fake.png: not a readable PNG"), std::string::npos) << fake.output;

  write_rgb_png(dir_ / "rgb.png");
  auto color = run(use + " " + (dir_ / "rgb.png").string());
  EXPECT_NE(color.exit_code, 0);
  EXPECT_NE(color.output.find("rgb.png: is a color PNG; expected a grayscale PNG"), std::string::npos)
      << color.output;
}

TEST_F(RunFolder, BadWeightsFilesNameTheKeyAndShapesAndChangeNothing) {
  ASSERT_EQ(run(train("run", "--epochs 1")).exit_code, 0);
  const fs::path weights = dir_ / "run" / "last.safetensors";
  const std::string eval = "eval --data-dir " + (dir_ / "data").string() + " --weights ";

  std::ofstream(dir_ / "other.model") << "input 1 28 28\nconv 4 k=3 s=2 p=1\nbatchnorm\nrelu\ndropout\nflatten\nlinear 10\n";
  auto shape = run(eval + weights.string() + " --model " + (dir_ / "other.model").string());
  EXPECT_NE(shape.exit_code, 0);
  EXPECT_NE(shape.output.find("'0.weight' has shape [6, 1, 3, 3] but the model needs [4, 1, 3, 3]"),
            std::string::npos)
      << shape.output;

  std::ofstream(dir_ / "more.model") << kNet << "relu\nlinear 10\n";
  auto missing = run(eval + weights.string() + " --model " + (dir_ / "more.model").string());
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("missing key '7.weight'"), std::string::npos) << missing.output;

  std::ofstream(dir_ / "nobn.model") << "input 1 28 28\nconv 6 k=3 s=2 p=1\nrelu\nrelu\ndropout\nflatten\nlinear 10\n";
  auto extra = run(eval + weights.string() + " --model " + (dir_ / "nobn.model").string());
  EXPECT_NE(extra.exit_code, 0);
  EXPECT_NE(extra.output.find("unexpected key '1."), std::string::npos) << extra.output;

  // A truncated checkpoint: --resume refuses it and leaves the folder as it was.
  ASSERT_EQ(run(train("cut", "--epochs 2 --raise-sigterm-at-step 5")).exit_code, 128 + 15);
  const fs::path checkpoint = dir_ / "cut" / "resume.safetensors";
  fs::resize_file(checkpoint, fs::file_size(checkpoint) / 2);
  const std::string before = read_file(dir_ / "cut" / "last.safetensors"), cut = read_file(checkpoint);
  auto truncated = run("train --resume " + (dir_ / "cut").string());
  EXPECT_NE(truncated.exit_code, 0);
  EXPECT_NE(truncated.output.find("resume.safetensors"), std::string::npos) << truncated.output;
  EXPECT_NE(truncated.output.find("truncated"), std::string::npos) << truncated.output;
  EXPECT_EQ(read_file(dir_ / "cut" / "last.safetensors"), before);
  EXPECT_EQ(read_file(checkpoint), cut);
}
