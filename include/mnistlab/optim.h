#pragma once
// Optimizers over one flat parameter array, with PyTorch's update rules
// (torch/optim/sgd.py, adam.py, adamw.py) and defaults. A step computes on
// a backend, the model's (Model::backend()), with its threads: one
// BackendOptions::threads governs the layers, the loss and the optimizer.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mnistlab/distributed.h"
#include "mnistlab/names.h"

namespace mnistlab {

class Backend;  // src/kernels/backend.h; a library user passes Model::backend() along
class Model;

enum class OptimizerKind { Sgd, Adam, AdamW };
inline constexpr Named<OptimizerKind> kOptimizerNames[] = {
    {"sgd", OptimizerKind::Sgd}, {"adam", OptimizerKind::Adam}, {"adamw", OptimizerKind::AdamW}};
const char* optimizer_name(OptimizerKind kind);
// Throws Error naming the value and the choices.
OptimizerKind parse_optimizer(const std::string& name);

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::Adam;
  float lr = 1e-3f;
  float momentum = 0.f;      // sgd
  float dampening = 0.f;     // sgd
  bool nesterov = false;     // sgd
  float weight_decay = -1;   // < 0: the optimizer's default (0; AdamW 1e-2)
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;  // adam, adamw
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Returns false when a gradient is not finite (NaN, +-inf): the step is
  // taken all the same (the check rides on its one pass over the
  // gradients), so the weights are no longer worth keeping.
  virtual bool step(const Backend& backend, float* params, const float* grads) = 0;
  // Data parallel: the step of parameters [first, first + count) alone, each
  // rank its slice (ZeroRedundancyOptimizer's sharding of the work); the
  // state of the others goes stale until a rank's slices are gathered
  // (write_buffer). The step count advances as with step().
  virtual bool step_slice(const Backend& backend, float* params, const float* grads, size_t first,
                          size_t count) = 0;
  // The model's parameters from its gradients, on its backend.
  bool step(Model& model);
  bool step_slice(Model& model, size_t first, size_t count);
  // One step of the parameters in these ranges alone (the others frozen, or
  // another rank's): the step count advances once. One range over every
  // parameter is step().
  bool step_ranges(Model& model, std::span<const Share> ranges);
  void set_lr(float lr) { lr_ = lr; }
  float lr() const { return lr_; }
  // What OneCycleLR cycles: SGD's momentum, Adam's beta1.
  virtual void set_momentum(float momentum) = 0;

  // The state a checkpoint keeps, under PyTorch's names (momentum_buffer,
  // exp_avg, exp_avg_sq), one float per parameter, in the memory of the
  // backend the steps run on; read_buffer copies one to the host (empty: not
  // created yet) and write_buffer back, on that backend.
  virtual std::vector<std::string> buffer_names() const = 0;
  virtual std::vector<float> read_buffer(const Backend& backend, const std::string& name) const = 0;
  virtual void write_buffer(const Backend& backend, const std::string& name, const std::vector<float>& values) = 0;
  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps) { steps_ = steps; }

 protected:
  float lr_ = 0;
  int64_t steps_ = 0;
};

// Throws Error on an unknown name or an option out of range.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options, size_t parameter_count);

}  // namespace mnistlab
