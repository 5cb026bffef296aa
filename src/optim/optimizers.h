#pragma once
// The optimizers keep their options and state; each step's arithmetic is
// the backend's (Backend::sgd_step, adam_step).
#include <cstdint>
#include <vector>

#include "mnistlab/optim.h"

namespace mnistlab {

class SGD final : public Optimizer {
 public:
  SGD(const OptimizerOptions& options, size_t n);
  using Optimizer::step;
  bool step(const Backend& backend, float* params, const float* grads) override;
  void set_momentum(float momentum) override { o_.momentum = momentum; }
  std::vector<Buffer> buffers() override { return {{"momentum_buffer", &buf_}}; }

 private:
  OptimizerOptions o_;
  size_t n_;
  std::vector<float> buf_;  // created on the first step with momentum, as PyTorch's
};

class Adam final : public Optimizer {
 public:
  // decoupled: AdamW's weight decay.
  Adam(const OptimizerOptions& options, size_t n, bool decoupled);
  using Optimizer::step;
  bool step(const Backend& backend, float* params, const float* grads) override;
  void set_momentum(float beta1) override { o_.beta1 = beta1; }
  std::vector<Buffer> buffers() override { return {{"exp_avg", &m_}, {"exp_avg_sq", &v_}}; }

 private:
  OptimizerOptions o_;
  size_t n_;
  bool decoupled_;
  std::vector<float> m_, v_;
};

}  // namespace mnistlab
