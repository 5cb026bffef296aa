#pragma once
#include <cstdint>
#include <vector>

#include "mnistlab/optim.h"

namespace mnistlab {

class SGD final : public Optimizer {
 public:
  SGD(const OptimizerOptions& options, size_t n);
  void step(float* params, const float* grads) override;

 private:
  OptimizerOptions o_;
  size_t n_;
  int64_t steps_ = 0;
  std::vector<float> buf_;
};

class Adam final : public Optimizer {
 public:
  // decoupled: AdamW's weight decay.
  Adam(const OptimizerOptions& options, size_t n, bool decoupled);
  void step(float* params, const float* grads) override;

 private:
  OptimizerOptions o_;
  size_t n_;
  bool decoupled_;
  int64_t steps_ = 0;
  std::vector<float> m_, v_;
};

}  // namespace mnistlab
