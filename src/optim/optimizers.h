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

// One float of optimizer state per parameter, in a backend's memory, made
// when first needed.
class StateBuffer {
 public:
  bool empty() const { return !storage_; }
  float* data() const { return storage_ ? storage_->as<float>() : nullptr; }
  void create(const Backend& backend, size_t n) { storage_ = backend.allocate(n * sizeof(float)); }
  std::vector<float> read(const Backend& backend, size_t n) const;
  void write(const Backend& backend, const std::vector<float>& values);

 private:
  std::unique_ptr<Storage> storage_;
};

class SGD final : public Optimizer {
 public:
  SGD(const OptimizerOptions& options, size_t n);
  using Optimizer::step;
  bool step(const Backend& backend, float* params, const float* grads) override;
  void set_momentum(float momentum) override { o_.momentum = momentum; }
  std::vector<std::string> buffer_names() const override { return {"momentum_buffer"}; }
  std::vector<float> read_buffer(const Backend& backend, const std::string& name) const override;
  void write_buffer(const Backend& backend, const std::string& name, const std::vector<float>& values) override;

 private:
  OptimizerOptions o_;
  size_t n_;
  StateBuffer buf_;  // created on the first step with momentum, as PyTorch's
};

class Adam final : public Optimizer {
 public:
  // decoupled: AdamW's weight decay.
  Adam(const OptimizerOptions& options, size_t n, bool decoupled);
  using Optimizer::step;
  bool step(const Backend& backend, float* params, const float* grads) override;
  void set_momentum(float beta1) override { o_.beta1 = beta1; }
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  std::vector<float> read_buffer(const Backend& backend, const std::string& name) const override;
  void write_buffer(const Backend& backend, const std::string& name, const std::vector<float>& values) override;

 private:
  StateBuffer& buffer(const std::string& name);
  OptimizerOptions o_;
  size_t n_;
  bool decoupled_;
  StateBuffer m_, v_;  // created zero on the first step
};

}  // namespace mnistlab
