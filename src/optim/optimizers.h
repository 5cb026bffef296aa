#pragma once
// The optimizers keep their options and state; each step's arithmetic is
// the backend's (Backend::sgd_step, adam_step).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "mnistlab/optim.h"

namespace mnistlab {

// An optimizer whose state is named buffers of one float per parameter, in
// the memory of the backend its steps run on, each made when first needed:
// reading and writing them by name (checkpoints) is written once, here.
class BufferedOptimizer : public Optimizer {
 public:
  std::vector<std::string> buffer_names() const final { return names_; }
  std::vector<float> read_buffer(const Backend& backend, const std::string& name) const final;
  void write_buffer(const Backend& backend, const std::string& name, const std::vector<float>& values) final;

 protected:
  BufferedOptimizer(std::string type, size_t n, std::vector<std::string> names);
  // Buffer i of names, made zero on `backend` when it is not there yet.
  float* buffer(const Backend& backend, size_t i);
  bool has_buffer(size_t i) const { return storage_[i] != nullptr; }
  size_t n_;

 private:
  size_t index(const std::string& name) const;  // Error naming the optimizer for an unknown name
  std::string type_;
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<Storage>> storage_;
};

class SGD final : public BufferedOptimizer {
 public:
  SGD(const OptimizerOptions& options, size_t n);
  using Optimizer::step;
  using Optimizer::step_slice;
  bool step(const Backend& backend, float* params, const float* grads) override {
    return step_slice(backend, params, grads, 0, n_);
  }
  bool step_slice(const Backend& backend, float* params, const float* grads, size_t first, size_t count) override;
  void set_momentum(float momentum) override { o_.momentum = momentum; }

 private:
  OptimizerOptions o_;  // its momentum_buffer is made on the first step with momentum, as PyTorch's
};

class Adam final : public BufferedOptimizer {
 public:
  // decoupled: AdamW's weight decay.
  Adam(const OptimizerOptions& options, size_t n, bool decoupled);
  using Optimizer::step;
  using Optimizer::step_slice;
  bool step(const Backend& backend, float* params, const float* grads) override {
    return step_slice(backend, params, grads, 0, n_);
  }
  bool step_slice(const Backend& backend, float* params, const float* grads, size_t first, size_t count) override;
  void set_momentum(float beta1) override { o_.beta1 = beta1; }

 private:
  OptimizerOptions o_;
  bool decoupled_;
};

}  // namespace mnistlab
