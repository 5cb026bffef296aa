#pragma once
#include <bit>
#include <cstdint>
#include <vector>

#include "mnistlab/optim.h"

namespace mnistlab {

// A float's exponent bits: all ones only for NaN and +-inf, whatever the
// floating-point flags. The steps take their max over the gradients in the
// loop that reads them anyway: 0.2% (SGD) to 0.5% (Adam) of a baseline
// training step, where a pass of its own over them costs 1.6%.
constexpr uint32_t kNonFiniteExponent = 0x7f800000u;
inline uint32_t exponent_bits(float x) { return std::bit_cast<uint32_t>(x) & kNonFiniteExponent; }

class SGD final : public Optimizer {
 public:
  SGD(const OptimizerOptions& options, size_t n);
  bool step(float* params, const float* grads) override;
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
  bool step(float* params, const float* grads) override;
  void set_momentum(float beta1) override { o_.beta1 = beta1; }
  std::vector<Buffer> buffers() override { return {{"exp_avg", &m_}, {"exp_avg_sq", &v_}}; }

 private:
  OptimizerOptions o_;
  size_t n_;
  bool decoupled_;
  std::vector<float> m_, v_;
};

}  // namespace mnistlab
