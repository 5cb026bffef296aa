// The seam owns the tensors' memory: on the guarded backend (pages kept
// PROT_NONE between backend calls) every preset and a model of every layer
// kind trains, saves a checkpoint, resumes from it, trains on, evaluates,
// reports and saves its weights, and ends exactly where the CPU backend does.
// Code that reads or writes a parameter, gradient, optimizer state or
// activation behind the backend's back (a host loop over a BatchNorm's
// running statistics, a memcpy of an activation, a checkpoint written from
// the model's pointers) faults here instead of passing.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "cli_fixture.h"
#include "every_layer.h"
#include "kernels/backend.h"
#include "mnistlab/checkpoint.h"
#include "mnistlab/model_file.h"
#include "mnistlab/optim.h"
#include "mnistlab/rng.h"
#include "mnistlab/run.h"
#include "mnistlab/safetensors.h"
#include "mnistlab/task.h"
#include "mnistlab/trainer.h"

using namespace mnistlab;
namespace fs = std::filesystem;

namespace {

struct Ending {
  std::vector<double> metrics;              // the task's eval metrics after the resumed epoch
  std::vector<std::vector<float>> state;    // every parameter and buffer
  std::vector<std::vector<float>> loaded;   // the saved weights loaded into another model
  std::string report;
};

// Two epochs of 3 batches: the first, a checkpoint, then a fresh model and
// optimizer (another seed) resumed from it for the second.
Ending train_save_resume(const std::string& text, const std::string& origin, BackendKind kind,
                         const std::filesystem::path& dir) {
  const Model probe = parse_model(text, origin);
  const bool denoiser = probe.input_shape() == probe.output_shape();
  const Dataset data = test::synthetic(24, 5);
  BackendOptions backend;
  backend.kind = kind;
  backend.threads = 2;
  TrainOptions o;
  o.batch_size = 8;
  o.epochs = 1;
  o.optimizer.lr = 1e-3f;
  auto make_task = [&] {
    return denoiser ? make_denoising_task(DenoiseOptions{}) : make_classification_task();
  };
  const std::filesystem::path checkpoint = dir / "resume.safetensors", weights = dir / "weights.safetensors";
  {
    Model model = parse_model(text, origin);
    model.build(1);
    model.set_backend(backend);
    auto optimizer = make_optimizer(o.optimizer, model.parameter_count());
    auto task = make_task();
    TrainProgress progress;
    fit(model, *optimizer, *task, data, data, o, progress, {});
    save_checkpoint(checkpoint, model, *optimizer, progress);
  }
  Ending e;
  Model model = parse_model(text, origin);
  model.build(2);
  model.set_backend(backend);
  auto optimizer = make_optimizer(o.optimizer, model.parameter_count());
  auto task = make_task();
  TrainProgress progress = load_checkpoint(checkpoint, model, *optimizer);
  o.epochs = 2;
  fit(model, *optimizer, *task, data, data, o, progress, {});
  e.metrics = task->evaluate(model, data, 8);
  e.report = task->report(model, data, 8);
  task->picture(model, data, 8);
  e.state = model.read_state();
  save_state_dict(model, weights);
  Model other = parse_model(text, origin);
  other.build(3);
  other.set_backend(backend);
  load_state_dict(other, weights);
  e.loaded = other.read_state();
  return e;
}

class GuardedBackend : public ::testing::TestWithParam<std::string> {};

TEST_P(GuardedBackend, TrainsSavesResumesAndEvaluatesAsTheCpuBackendDoes) {
  const std::string name = GetParam();
  const bool every_layer = name == "every-layer";
  const std::string text = every_layer ? test::kEveryLayer : resolve_model(name).text;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("mnistlab_guarded_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "cpu");
  std::filesystem::create_directories(dir / "guarded");
  const Ending cpu = train_save_resume(text, name, BackendKind::Cpu, dir / "cpu");
  const Ending guarded = train_save_resume(text, name, BackendKind::GuardedCpu, dir / "guarded");
  std::filesystem::remove_all(dir);
  EXPECT_EQ(cpu.metrics, guarded.metrics);
  EXPECT_EQ(cpu.report, guarded.report);
  ASSERT_EQ(cpu.state.size(), guarded.state.size());
  for (size_t t = 0; t < cpu.state.size(); ++t) {
    ASSERT_EQ(cpu.state[t].size(), guarded.state[t].size());
    EXPECT_EQ(std::memcmp(cpu.state[t].data(), guarded.state[t].data(), cpu.state[t].size() * sizeof(float)), 0)
        << "tensor " << t << " differs between the CPU and the guarded backend";
  }
  EXPECT_EQ(guarded.loaded, guarded.state) << "the saved weights, loaded on the guarded backend";
}

INSTANTIATE_TEST_SUITE_P(EveryPresetAndLayer, GuardedBackend, ::testing::ValuesIn(test::every_preset_and_layer()),
                         test::model_test_name);

// A whole run on the guarded backend: its folder (checkpoints, event file
// with histograms of the weights, curves, report, the misclassified
// picture) is written from the backend's memory through its copies, and it
// ends with the CPU backend's weights to the byte and its metrics.
TEST(GuardedBackendRun, WritesTheRunFolderTheCpuBackendWrites) {
  const fs::path dir = fs::temp_directory_path() / ("mnistlab_guarded_run_" + std::to_string(getpid()));
  fs::remove_all(dir);
  test::write_idx_split(dir / "data", test::patterned(60, 10, 28, 1), "train");
  test::write_idx_split(dir / "data", test::patterned(30, 10, 28, 2), "t10k");
  const auto train = [&](BackendKind kind, const std::string& name) {
    RunConfig c = default_run_config(TaskKind::Classification);
    c.model = "fast";
    c.dataset = (dir / "data").string();
    c.out = (dir / name).string();
    c.train.epochs = 2;
    c.train.batch_size = 20;
    c.threads = 2;
    c.backend = kind;
    return Run::create(c, "test", false).train(nullptr, {});
  };
  const RunOutcome cpu = train(BackendKind::Cpu, "cpu");
  const RunOutcome guarded = train(BackendKind::GuardedCpu, "guarded");
  EXPECT_EQ(cpu.test, guarded.test);
  test::expect_same_run_end(dir / "guarded", dir / "cpu", 2, 5);
  EXPECT_EQ(test::read_file(dir / "guarded" / "report.txt"), test::read_file(dir / "cpu" / "report.txt"));
  fs::remove_all(dir);
}

// The guard itself: the backend's memory faults when the host touches it
// outside a call, and is there inside one.
TEST(GuardedBackendMemory, TheHostCannotReadItBetweenCalls) {
  BackendOptions o;
  o.kind = BackendKind::GuardedCpu;
  const auto backend = make_backend(o);
  const std::unique_ptr<Storage> block = backend->allocate(1000 * sizeof(float));
  const std::vector<float> values(1000, 1.5f);
  backend->upload(values.data(), values.size() * sizeof(float), block->data());
  std::vector<float> back(1000);
  backend->download(block->data(), back.size() * sizeof(float), back.data());
  EXPECT_EQ(back, values);
  EXPECT_DEATH({ volatile float read = block->as<float>()[3]; (void)read; }, "");
}

}  // namespace
