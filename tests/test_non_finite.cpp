// Training that diverges stops at the first non-finite loss or gradient,
// names where, and leaves the run folder at its last good epoch.
#include <cmath>
#include <limits>

#include "cli_fixture.h"
#include "kernels/backend.h"
#include "mnistlab/checkpoint.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "mnistlab/safetensors.h"
#include "mnistlab/trainer.h"

using namespace mnistlab;

// The backend the losses and optimizers compute on here (a model's would be Model::backend()).
static const Backend& cpu_backend() {
  static const std::unique_ptr<Backend> backend = make_backend({});
  return *backend;
}
using namespace mnistlab::test;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// The message of the Error that `train` throws, or "" when it throws none.
template <class F>
std::string error_of(F&& train) {
  try {
    train();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

Model tiny_net() {
  Model m = parse_model("input 1 28 28\nconv 4 k=3 s=2 p=1\nrelu\nflatten\nlinear 10\n", "tiny");
  m.build(1);
  return m;
}

// Wraps an optimizer and sets one value to +inf at step `at` (1-based, over
// the run): a gradient before the step (under a loss that stayed finite), or
// a weight after it (as an update that overflows would).
class InfinityAt final : public Optimizer {
 public:
  enum What { Gradient, Weight };
  InfinityAt(std::unique_ptr<Optimizer> inner, int64_t at, What what)
      : inner_(std::move(inner)), at_(at), what_(what) {}
  using Optimizer::step;
  using Optimizer::step_slice;
  bool step_slice(const Backend&, float*, const float*, size_t, size_t) override {
    ADD_FAILURE() << "a single process steps all parameters";
    return false;
  }
  bool step(const Backend& backend, float* params, const float* grads) override {
    const bool now = inner_->steps() + 1 == at_;
    if (now && what_ == Gradient) const_cast<float*>(grads)[1] = kInf;
    inner_->set_lr(lr());
    const bool finite = inner_->step(backend, params, grads);
    if (now && what_ == Weight) params[1] = kInf;
    set_steps(inner_->steps());
    return finite;
  }
  void set_momentum(float momentum) override { inner_->set_momentum(momentum); }
  std::vector<std::string> buffer_names() const override { return inner_->buffer_names(); }
  std::vector<float> read_buffer(const Backend& backend, const std::string& name) const override {
    return inner_->read_buffer(backend, name);
  }
  void write_buffer(const Backend& backend, const std::string& name, const std::vector<float>& values) override {
    inner_->write_buffer(backend, name, values);
  }

 private:
  std::unique_ptr<Optimizer> inner_;
  int64_t at_;
  What what_;
};

// The message of fit's Error (or "") with `optimizer` on a tiny classifier,
// 4 batches an epoch; the epochs it handed to on_epoch into *epochs.
std::string fit_error(InfinityAt::What what, int64_t at, std::vector<int>* epochs) {
  Model model = tiny_net();
  TrainOptions o;
  o.epochs = 3;
  o.batch_size = 10;
  InfinityAt optimizer(make_optimizer(o.optimizer, model.parameter_count()), at, what);
  auto task = make_classification_task();
  TrainProgress progress;
  TrainCallbacks callbacks;
  callbacks.on_epoch = [&](const EpochMetrics& m, bool) { epochs->push_back(m.epoch); };
  const Dataset data = synthetic(40, 1);
  return error_of([&] { fit(model, optimizer, *task, data, data, o, progress, callbacks); });
}

}  // namespace

TEST(NonFinite, OptimizersSayWhetherEveryGradientWasFinite) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), big = std::numeric_limits<float>::max();
  for (OptimizerKind kind : {OptimizerKind::Sgd, OptimizerKind::Adam, OptimizerKind::AdamW}) {
    OptimizerOptions o;
    o.kind = kind;
    o.momentum = kind == OptimizerKind::Sgd ? 0.9f : 0.f;
    // Finite however large or small; then one bad value among many, anywhere.
    std::vector<float> p(1000, 1.f), g(1000, 1e-42f);
    g[3] = big;
    g[4] = -big;
    EXPECT_TRUE(make_optimizer(o, p.size())->step(cpu_backend(), p.data(), g.data())) << optimizer_name(kind);
    for (float bad : {nan, kInf, -kInf})
      for (size_t at : {size_t(0), size_t(517), size_t(999)}) {
        std::vector<float> q(1000, 1.f), h(1000, 0.5f);
        h[at] = bad;
        EXPECT_FALSE(make_optimizer(o, q.size())->step(cpu_backend(), q.data(), h.data())) << optimizer_name(kind) << " " << at;
      }
  }
}

TEST(NonFinite, FitStopsAtTheFirstNonFiniteLossNamingEpochAndBatch) {
  Model model = tiny_net();
  TrainOptions o;
  o.epochs = 3;
  o.batch_size = 10;
  o.optimizer.kind = OptimizerKind::Sgd;
  o.optimizer.lr = 1e30f;
  o.optimizer.momentum = 0.9f;
  const Dataset data = synthetic(40, 1);
  int epochs_seen = 0;
  const std::string what = error_of([&] { fit(model, data, data, o, [&](const EpochMetrics&) { ++epochs_seen; }); });
  // The first step, from the initial weights, is fine; the second's loss is not.
  const std::string where = "training diverged at epoch 1, batch 2 of 4 (learning rate 1e+30): the loss is ";
  EXPECT_TRUE(what.starts_with(where + "NaN; ") || what.starts_with(where + "inf; ") ||
              what.starts_with(where + "-inf; "))
      << what;
  EXPECT_TRUE(what.ends_with("; lower --lr and start a new run")) << what;
  EXPECT_EQ(epochs_seen, 0);
}

TEST(NonFinite, FitStopsAtAGradientThatIsNotFiniteUnderAFiniteLoss) {
  std::vector<int> epochs;
  const std::string what = fit_error(InfinityAt::Gradient, 4 + 3, &epochs);
  EXPECT_NE(what.find("training diverged at epoch 2, batch 3 of 4 (learning rate 0.001): the loss is "),
            std::string::npos)
      << what;
  EXPECT_NE(what.find(" but a gradient is not finite; lower --lr"), std::string::npos) << what;
  EXPECT_EQ(epochs, std::vector<int>{1});
}

// A finite gradient can still overflow a weight; on_epoch (which saves
// checkpoints in a run) must never get it.
TEST(NonFinite, FitNeverHandsOverWeightsThatAreNotFinite) {
  std::vector<int> epochs;
  const std::string what = fit_error(InfinityAt::Weight, 4 + 4, &epochs);
  EXPECT_EQ(what, "training diverged at epoch 2, batch 4 of 4 (learning rate 0.001): 0.weight is not finite; lower "
                  "--lr and start a new run");
  EXPECT_EQ(epochs, std::vector<int>{1});
}

class NonFiniteRun : public Cli {};

// Warmup's ramp takes SGD past the rate at which this deep linear network
// blows up (a cliff: its output is a product of four weight matrices) during
// epoch 2, for any seed tried and rates from 6 to 10.
TEST_F(NonFiniteRun, BlowUpInEpoch2ExitsOneAndKeepsEpoch1) {
  write_dataset();
  std::ofstream(dir_ / "net.model") << "input 1 28 28\nflatten\nlinear 32\nlinear 32\nlinear 32\nlinear 10\n";
  const auto out = run("train --model " + (dir_ / "net.model").string() + " " + data() +
                       " --threads 1 --batch-size 100 --epochs 3 --optimizer sgd --lr 8 --warmup-epochs 1.5 --seed 2");
  EXPECT_EQ(out.exit_code, 1) << out.output;
  EXPECT_NE(out.output.find("error: training diverged at epoch 2, batch "), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("lower --lr and start a new run"), std::string::npos) << out.output;
  const fs::path folder = dir_ / "run";
  EXPECT_FALSE(fs::exists(folder / "report.txt"));
  EXPECT_EQ(metrics("run").size(), 1u);

  Model model = parse_model(read_file(folder / "model.txt"), "model.txt");
  model.build(0);
  OptimizerOptions sgd;
  sgd.kind = OptimizerKind::Sgd;
  auto optimizer = make_optimizer(sgd, model.parameter_count());
  const TrainProgress saved = load_checkpoint(folder / "resume.safetensors", model, *optimizer);
  EXPECT_EQ(saved.epoch, 1);
  EXPECT_EQ(saved.batch, 0);
  for (const StateEntry& e : model.state_dict())
    for (size_t i = 0; i < e.param->numel(); ++i) ASSERT_TRUE(std::isfinite(e.param->value[i])) << e.key;
  EXPECT_NO_THROW(load_state_dict(model, folder / "last.safetensors"));  // it refuses NaN and inf
}
