// Memory counted before it is taken: the arena's size against a hand count,
// a training batch refused with one that fits, the budget's sources, and
// evaluations that run in bounded chunks with unchanged results.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>

#include "cli_fixture.h"
#include "mnistlab/denoise.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "mnistlab/trainer.h"
#include "train/memory_budget.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

// 1x4x4 -> conv 2 k=3 -> 2x2x2 (a map of 4 pixels: the batched convolution,
// one group of all 9 taps) -> relu -> flatten -> linear 3.
Model hand_counted() {
  Model m = parse_model("input 1 4 4\nconv 2 k=3\nrelu\nflatten\nlinear 3\n", "hand.model");
  m.build(1);
  return m;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(MemoryBudget, ArenaAndTrainingMemoryMatchAHandCount) {
  Model m = hand_counted();
  for (size_t b : {1, 5, 64}) {
    // Training keeps every output and its gradient: conv 8, relu 8, linear 3
    // (flatten is a view), twice: 38 per image; the input's gradient 16; the
    // conv's kept columns 9 taps x 4 pixels = 36; its workspace the output
    // (8) and input-gradient columns (36) per image, and the 2x9 weight
    // gradient; the caller's batch copied in, 16.
    EXPECT_EQ(m.arena_bytes_for(int(b), true), (38 * b + 16 * b + 36 * b + 44 * b + 18 + 16 * b) * 4) << b;
    // Inference folds the ReLU into the conv and shares two buffers of the
    // largest output (8); the conv's workspace holds its columns too; the
    // batch copied in.
    EXPECT_EQ(m.arena_bytes_for(int(b), false), (2 * 8 * b + 80 * b + 18 + 16 * b) * 4) << b;
  }
  EXPECT_EQ(m.capacity(), 0);  // counted, nothing reserved
  m.reserve(5);
  EXPECT_EQ(m.arena_bytes(), (150 * 5 + 18) * 4u);

  // 47 parameters (conv 2x9 + 2, linear 8x3 + 3), their gradients, Adam's
  // two moments; batches: the loader's two and evaluation's one, of 16
  // pixels and a label, and the 3 logits' gradients per image.
  auto task = make_classification_task();
  TrainOptions o;
  o.batch_size = 10;
  const TrainingMemory need = training_memory(m, *task, o);
  EXPECT_EQ(need.arena, (150 * 10 + 18) * 4u);
  EXPECT_EQ(need.weights, (47 + 47 + 2 * 47) * 4u);
  EXPECT_EQ(need.batches, (3 * 10 * 17 + 10 * 3) * 4u);
  EXPECT_EQ(need.other, (47 + 2 * 47) * 4u + kOtherBytes);  // a checkpoint copies weights and moments
  o.optimizer.kind = OptimizerKind::Sgd;  // without momentum: no state
  EXPECT_EQ(training_memory(m, *task, o).weights, (47 + 47) * 4u);
  o.schedule.kind = ScheduleKind::OneCycle;  // cycles a momentum in: SGD's buffer
  EXPECT_EQ(training_memory(m, *task, o).weights, (47 + 47 + 47) * 4u);
}

// Counting plans the kernels for another batch, then back: a model
// reserved for 2 (whose convolution keeps its columns, as a batch of 8 would
// not) computes the same gradients and outputs after it counted 8.
TEST(MemoryBudget, CountingLeavesAReservedModelAsItWas) {
  BackendOptions backend;
  backend.per_image_min_pixels = 1 << 30;
  backend.conv_workspace_floats = 3 * (18 * 25 + 3 * 25 + 27 * 25 + 2 * 25);  // 3 images' columns
  std::vector<float> x(2 * 50), dy(2 * 3);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.7f * float(i));
  for (size_t i = 0; i < dy.size(); ++i) dy[i] = 0.1f * float(i) - 0.2f;
  // Gradients and eval outputs of two steps, with or without counting between.
  const auto run = [&](bool count) {
    Model m = parse_model("input 2 5 5\nconv 3 k=3 p=1\nbatchnorm\nrelu\nconv 2 k=3 p=1\nflatten\nlinear 3\n", "t");
    m.build(3);
    m.set_backend(backend);
    m.reserve(2);
    const size_t arena = m.arena_bytes();
    std::vector<float> seen;
    for (int i = 0; i < 2; ++i) {
      m.train();
      m.forward(x.data(), 2);
      m.backward(dy.data());
      seen.insert(seen.end(), m.gradients(), m.gradients() + m.parameter_count());
      m.eval();
      const Tensor& y = m.forward(x.data(), 2);
      seen.insert(seen.end(), y.data, y.data + y.numel());
      if (!count) continue;
      EXPECT_GT(m.arena_bytes_for(8, true), arena);
      EXPECT_GT(m.arena_bytes_for(8, false), 0u);
      EXPECT_EQ(m.capacity(), 2);
      EXPECT_EQ(m.arena_bytes(), arena);
    }
    return seen;
  };
  EXPECT_EQ(run(true), run(false));
}

TEST(MemoryBudget, ATrainingBatchThatCannotFitIsRefusedWithOneThatFits) {
  Model m = hand_counted();
  auto task = make_classification_task();
  TrainOptions o;
  o.batch_size = 40;
  const uint64_t at_40 = training_memory(m, *task, o).total();
  const MemoryBudget budget{at_40, "the test's budget"};
  EXPECT_NO_THROW(check_training_memory(m, *task, o, budget));
  o.batch_size = 64;
  const uint64_t at_64 = training_memory(m, *task, o).total();
  const std::string message = error_of([&] { check_training_memory(m, *task, o, budget); });
  EXPECT_NE(message.find("training at batch size 64 needs " + format_bytes(at_64) + " (" + std::to_string(at_64) +
                         " bytes"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find(std::to_string(at_40) + " bytes) is available (the test's budget)"), std::string::npos)
      << message;
  EXPECT_NE(message.find("the largest batch size that fits is 40"), std::string::npos) << message;
  EXPECT_EQ(m.capacity(), 0);  // counting allocated no arena
  const std::string none = error_of([&] { check_training_memory(m, *task, o, MemoryBudget{100, "tiny"}); });
  EXPECT_NE(none.find("not even batch size 1 fits"), std::string::npos) << none;
}

TEST(MemoryBudget, AvailableMemoryHonoursTheAddressSpaceLimit) {
  const MemoryBudget machine = available_memory();
  EXPECT_GT(machine.bytes, uint64_t(1) << 20);
  EXPECT_LT(machine.bytes, uint64_t(1) << 60) << "MemAvailable was not read";
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_AS, &saved), 0);
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  statm >> pages;
  const uint64_t in_use = pages * uint64_t(sysconf(_SC_PAGESIZE)), room = uint64_t(64) << 20;
  rlimit lowered = saved;
  lowered.rlim_cur = in_use + room;
  if (saved.rlim_max != RLIM_INFINITY && lowered.rlim_cur > saved.rlim_max) GTEST_SKIP() << "hard limit too low";
  ASSERT_EQ(setrlimit(RLIMIT_AS, &lowered), 0);
  const MemoryBudget limited = available_memory();
  setrlimit(RLIMIT_AS, &saved);
  EXPECT_NE(limited.source.find("RLIMIT_AS"), std::string::npos) << limited.source;
  EXPECT_LE(limited.bytes, room);
  EXPECT_GT(limited.bytes, room / 2);
}

TEST(MemoryBudget, CgroupLimitsCountOnTheWayUp) {
  const fs::path root = fs::temp_directory_path() / ("mnistlab_cgroup_" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "a" / "b");
  const auto put = [](const fs::path& file, const std::string& text) { std::ofstream(file) << text << "\n"; };
  put(root / "a" / "b" / "memory.max", "max");  // v2's "no limit"
  put(root / "a" / "b" / "memory.current", "100");
  put(root / "a" / "memory.max", "5000");
  put(root / "a" / "memory.current", "1200");
  EXPECT_EQ(cgroup_memory_left(root, "/a/b", false), 3800u);
  put(root / "a" / "b" / "memory.max", "1000");
  EXPECT_EQ(cgroup_memory_left(root, "/a/b", false), 900u);
  EXPECT_EQ(cgroup_memory_left(root, "/", false), std::numeric_limits<uint64_t>::max());
  put(root / "a" / "memory.limit_in_bytes", "9223372036854771712");  // v1's "no limit"
  put(root / "a" / "memory.usage_in_bytes", "7");
  EXPECT_EQ(cgroup_memory_left(root, "/a", true), std::numeric_limits<uint64_t>::max());
  put(root / "memory.limit_in_bytes", "64");
  put(root / "memory.usage_in_bytes", "100");  // over the limit: nothing left
  EXPECT_EQ(cgroup_memory_left(root, "/a", true), 0u);
  fs::remove_all(root);
}

// "test_loss X test_acc Y", as `mnistlab eval` prints it.
std::string printed(const EvalResult& r) {
  char line[64];
  std::snprintf(line, sizeof line, "test_loss %.6f test_acc %.6f", r.loss, r.acc);
  return line;
}

// A model with 3.1 MiB of activations per image: 256 MiB of arena hold 40 or so.
TEST(MemoryBudget, EvaluationRunsInBoundedChunksWithTheSameResults) {
  const char* text = "input 1 28 28\nconv 1024 k=1\nrelu\nconv 1 k=1\nflatten\nlinear 10\n";
  const auto fresh = [&] {
    Model m = parse_model(text, "wide.model");
    m.build(3);
    return m;
  };
  Model m = fresh();
  const int chunk = evaluation_batch(m, 65536);
  EXPECT_GT(chunk, 1);
  EXPECT_LE(m.arena_bytes_for(chunk, false), kEvaluationArenaBytes);
  EXPECT_GT(m.arena_bytes_for(chunk + 1, false), kEvaluationArenaBytes);
  EXPECT_EQ(m.capacity(), 0);

  const Dataset data = synthetic(100, 4);
  std::vector<int> whole, in_chunks, small;
  std::vector<int64_t> confusion_whole, confusion_small;
  const EvalResult r = evaluate(m, data, 65536, &confusion_whole, &whole);
  EXPECT_LE(m.arena_bytes(), kEvaluationArenaBytes);
  EXPECT_LT(m.capacity(), 100);
  // Exactly an evaluation at the chunk's size...
  Model at_chunk = fresh();
  const EvalResult c = evaluate(at_chunk, data, chunk, nullptr, &in_chunks);
  EXPECT_EQ(r.loss, c.loss);
  EXPECT_EQ(whole, in_chunks);
  // ... and, to the digit printed, one at any size: a logit's last bits
  // follow the GEMM's batch size, chunks or not.
  Model at_7 = fresh();
  const EvalResult s = evaluate(at_7, data, 7, &confusion_small, &small);
  EXPECT_EQ(printed(r), printed(s));
  EXPECT_EQ(r.acc, s.acc);
  EXPECT_EQ(whole, small);
  EXPECT_EQ(confusion_whole, confusion_small);
}

TEST(MemoryBudget, DenoiserEvaluationRunsInBoundedChunksWithTheSameResults) {
  const char* text = "input 1 28 28\nconv 512 k=1\nrelu\nconv 1 k=1\nsigmoid\n";
  const Dataset data = synthetic(150, 5);
  DenoiseOptions o;
  o.noise.kind = NoiseKind::Gaussian;
  o.seed = 9;
  Model whole = parse_model(text, "dae.model"), small = parse_model(text, "dae.model");
  whole.build(2);
  small.build(2);
  const DenoiseEval a = evaluate_denoiser(&whole, data, o, 65536);
  EXPECT_LE(whole.arena_bytes(), kEvaluationArenaBytes);
  EXPECT_LT(whole.capacity(), 150);
  const DenoiseEval b = evaluate_denoiser(&small, data, o, 9);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.psnr, b.psnr);
  EXPECT_EQ(a.ssim, b.ssim);
}

// 13 MiB of activations per image (4096 channels of 28x28): batch 65536
// needs terabytes. Refused before the run folder holds anything, also under
// an address-space limit, which the old code only met while allocating.
TEST_F(Cli, TrainingBatchThatCannotFitIsRefusedBeforeAnyRunFile) {
  write_dataset();
  const fs::path model = dir_ / "wide.model";
  std::ofstream(model) << "input 1 28 28\nconv 4096 k=3 p=1\nconv 1 k=1\nflatten\nlinear 10\n";
  // 65536 images of 4096 maps of 28x28 need far more than any machine has,
  // so the refusal holds with or without an address-space limit; under
  // AddressSanitizer, which reserves terabytes of shadow address space at
  // start, ulimit -v would stop the process before main.
#if defined(__SANITIZE_ADDRESS__)
  const std::string limit = "";
#else
  const std::string limit = "ulimit -v 16000000 && ";
#endif
  const CommandResult r = run_shell(limit + std::string(MNISTLAB_CLI) +
                                                " train --epochs 1 --batch-size 65536 --model " + model.string() +
                                                " " + data() + " 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("training at batch size 65536 needs"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("is available"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the largest batch size that fits is"), std::string::npos) << r.output;
  for (const char* file : {"model.txt", "command.txt", "run.json", "metrics.csv", "last.safetensors"})
    EXPECT_FALSE(fs::exists(dir_ / "run" / file)) << file;
}
