// The mnistlab command end to end: help, clear errors with a non-zero exit
// for bad input, and a smoke training run on a small synthetic dataset
// that the test writes itself.
#include "cli_fixture.h"

using namespace mnistlab;
using namespace mnistlab::test;

TEST_F(Cli, HelpForTheCommandAndTrain) {
  auto top = run("--help");
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.output.find("train"), std::string::npos);
  auto train = run("train --help");
  EXPECT_EQ(train.exit_code, 0);
  for (const char* flag : {"--model", "--dataset", "--data-dir", "--epochs", "--batch-size", "--optimizer", "--lr",
                           "--momentum", "--weight-decay", "--seed", "--threads", "--out", "--train-limit",
                           "--test-limit", "--overwrite", "--augment", "--log-every-steps", "TensorBoard"})
    EXPECT_NE(train.output.find(flag), std::string::npos) << flag;
}

TEST_F(Cli, NoSubcommandIsAnError) { EXPECT_NE(run("").exit_code, 0); }

TEST_F(Cli, MissingDataFolderNamesTheScriptThatFetchesIt) {
  auto r = run("train --epochs 1 --data-dir " + (dir_ / "nowhere").string() + " --out " + (dir_ / "run").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find((dir_ / "nowhere").string() + ": no such folder;"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("scripts/get-data.sh"), std::string::npos) << r.output;
}

TEST_F(Cli, TruncatedIdxFile) {
  write_dataset();
  const fs::path images = dir_ / "data" / "t10k-images-idx3-ubyte";
  fs::resize_file(images, fs::file_size(images) - 100);
  auto r = run("train --epochs 1 " + data());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("t10k-images-idx3-ubyte"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;
}

TEST_F(Cli, ForeignFileInPlaceOfImages) {
  write_dataset();
  std::ofstream(dir_ / "data" / "t10k-images-idx3-ubyte") << "<html>not an idx file</html>";
  auto r = run("train --epochs 1 " + data());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("magic"), std::string::npos) << r.output;
}

TEST_F(Cli, ImagesAndLabelsOfDifferentCounts) {
  write_dataset();
  write_idx_labels(dir_ / "data" / "t10k-labels-idx1-ubyte", std::vector<uint8_t>(99, 1));
  auto r = run("train --epochs 1 " + data());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("100"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("99"), std::string::npos) << r.output;
}

TEST_F(Cli, UnknownModelAndDataset) {
  write_dataset();
  auto model = run("train --model resnet9000 " + data());
  EXPECT_NE(model.exit_code, 0);
  EXPECT_NE(model.output.find("resnet9000"), std::string::npos) << model.output;
  EXPECT_NE(model.output.find("baseline"), std::string::npos) << model.output;  // lists the presets
  auto dataset = run("train --dataset cifar " + data());
  EXPECT_NE(dataset.exit_code, 0);
  EXPECT_NE(dataset.output.find("cifar"), std::string::npos) << dataset.output;
}

TEST_F(Cli, NonNumericAndOutOfRangeOptions) {
  write_dataset();
  for (const char* bad : {"--epochs ten", "--epochs 0", "--batch-size -5", "--lr abc", "--lr 0", "--momentum 1.5",
                          "--threads 0", "--optimizer rmsprop", "--optimizer 1", "--seed -1x", "--augment crop=-1",
                          "--augment rotate=5", "--augment hflip", "--log-every-steps 0"}) {
    auto r = run(std::string("train ") + bad + " " + data());
    EXPECT_NE(r.exit_code, 0) << bad;
    const std::string option = std::string(bad).substr(0, std::string(bad).find(' '));
    EXPECT_NE(r.output.find(option), std::string::npos) << bad << ": " << r.output;
  }
}

TEST_F(Cli, ModelFileErrorNamesFileAndLine) {
  write_dataset();
  std::ofstream(dir_ / "bad.model") << "input 1 28 28\nconv 8 k=3\nrelu\nconvolution 4\n";
  auto r = run("train --model " + (dir_ / "bad.model").string() + " " + data());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("bad.model:4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("convolution"), std::string::npos) << r.output;
}

TEST_F(Cli, SmokeTrainingLearnsAndWritesMetrics) {
  write_dataset();
  std::ofstream(dir_ / "small.model") << "input 1 28 28\nconv 8 k=3 s=2 p=1\nrelu\nmaxpool k=2\nflatten\nlinear 10\n";
  auto r = run("train --model " + (dir_ / "small.model").string() + " --epochs 4 --batch-size 32 --threads 1 " + data());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream csv(dir_ / "run" / "metrics.csv");
  std::string header, line, last;
  std::getline(csv, header);
  EXPECT_EQ(header, "epoch,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s");
  int rows = 0;
  while (std::getline(csv, line)) last = line, ++rows;
  EXPECT_EQ(rows, 4);
  std::vector<double> v;
  std::stringstream ss(last);
  for (std::string cell; std::getline(ss, cell, ',');) v.push_back(std::stod(cell));
  ASSERT_EQ(v.size(), 7u);
  EXPECT_GT(v[4], 0.9) << "test accuracy on ten separable classes: " << last;
  EXPECT_GT(v[5], 0.0);
  EXPECT_GT(v[6], 0.0) << "images per second";
}

// `mnistlab info` names what the kernels run on; the instruction set it
// reports is checked against GCC's own CPU detection.
TEST_F(Cli, InfoNamesTheCpuIsaAndGemmKernel) {
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const std::string widest = avx512 ? "avx512" : avx2 ? "avx2" : "scalar";
  auto r = run("info --threads 2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("kernels " + widest + " (widest " + widest + ")"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 threads"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("GEMM oneDNN"), std::string::npos) << r.output;
  auto capped = run("info --isa scalar --model baseline --batch-size 8");
  EXPECT_EQ(capped.exit_code, 0) << capped.output;
  EXPECT_NE(capped.output.find("kernels scalar"), std::string::npos) << capped.output;
  EXPECT_NE(capped.output.find("winograd/scalar"), std::string::npos) << capped.output;
  auto version = run("--version");
  EXPECT_NE(version.output.find("GEMM oneDNN"), std::string::npos) << version.output;
  auto bad = run("info --isa sse");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("expected scalar, avx2 or avx512, got 'sse'"), std::string::npos) << bad.output;
}
