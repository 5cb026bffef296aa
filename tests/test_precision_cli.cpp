// --precision as a user meets it: train, denoise train and eval take it,
// run.json records it and a resume keeps it, info shows it; on a CPU without
// bfloat16 instructions it is refused before anything is written, naming
// the CPU.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_fixture.h"
#include "kernels/cpu/bf16.h"
#include "kernels/cpu/cpu_info.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

const char* kTiny = "input 1 28 28\nconv 8 k=3 p=1\nrelu\nmaxpool k=2\nflatten\nlinear 10\n";

class Precision : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    write_dataset();
    std::ofstream(dir_ / "tiny.model") << kTiny;
  }
  std::string train(const std::string& more) const {
    return "train --model " + (dir_ / "tiny.model").string() + " " + data() +
           " --epochs 2 --batch-size 20 --threads 2 " + more;
  }
  // run.json's "precision"; absent means fp32 (as in runs from before the option).
  std::string json_precision() const {
    const auto j = nlohmann::json::parse(read_file(dir_ / "run" / "run.json"));
    return j.contains("precision") ? j.at("precision").get<std::string>() : "(absent)";
  }
};

TEST_F(Precision, Bf16IsRecordedKeptOnResumeAndShownOrRefusedNamingTheCpu) {
  const std::string why = cpu::bf16_unsupported(cpu::cpu_info(), std::nullopt);
  if (!why.empty()) {
    const auto refused = run(train("--precision bf16"));
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE(refused.output.find(cpu::cpu_info().model), std::string::npos) << refused.output;
    EXPECT_FALSE(fs::exists(dir_ / "run" / "run.json"));
    GTEST_SKIP() << "this CPU has no bfloat16 instructions: " << why;
  }
  // 20 batches an epoch: stopped in epoch 2, resumed without --precision.
  const auto stopped = run(train("--precision bf16 --raise-sigterm-at-step 27"));
  ASSERT_EQ(stopped.exit_code, 128 + 15) << stopped.output;
  EXPECT_NE(stopped.output.find("2 threads, bf16"), std::string::npos) << stopped.output;
  EXPECT_EQ(json_precision(), "bf16");
  const auto resumed = run("train --resume " + (dir_ / "run").string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("2 threads, bf16"), std::string::npos) << resumed.output;
  EXPECT_EQ(json_precision(), "bf16");
  EXPECT_EQ(metrics((dir_ / "run").filename().string()).size(), 2u);

  // The same weights evaluated in bfloat16 and in float32: the same
  // predictions but for a few images near a decision boundary.
  const std::string eval = "eval --model " + (dir_ / "tiny.model").string() + " --weights " +
                           (dir_ / "run" / "last.safetensors").string() + " --data-dir " +
                           (dir_ / "data").string() + " --threads 2";
  const auto fp32 = run(eval), bf16 = run(eval + " --precision bf16");
  ASSERT_EQ(fp32.exit_code, 0) << fp32.output;
  ASSERT_EQ(bf16.exit_code, 0) << bf16.output;
  const auto accuracy = [](const std::string& out) { return std::stod(out.substr(out.find("test_acc ") + 9)); };
  EXPECT_NEAR(accuracy(bf16.output), accuracy(fp32.output), 0.03) << fp32.output << bf16.output;

  const auto info = run("info --precision bf16");
  EXPECT_NE(info.output.find("precision bf16"), std::string::npos) << info.output;
}

TEST_F(Precision, Fp32IsTheDefault) {
  const auto trained = run(train(""));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_EQ(json_precision(), "(absent)");
  EXPECT_EQ(trained.output.find(", bf16"), std::string::npos) << trained.output;
  EXPECT_NE(run("info").output.find("precision fp32"), std::string::npos);
}

}  // namespace
