#pragma once
#include <cmath>

#include "mnistlab/layer.h"

namespace mnistlab {

// PyTorch's default for Conv2d and Linear: kaiming_uniform_(a=sqrt(5)) on the
// weight, which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias from the
// same bound (torch/nn/modules/conv.py, linear.py: reset_parameters).
inline void init_uniform_fan_in(Param& p, int fan_in, Rng& rng) {
  const float bound = fan_in > 0 ? 1.0f / std::sqrt(float(fan_in)) : 0.f;
  for (size_t i = 0; i < p.numel(); ++i) p.value[i] = rng.uniform(-bound, bound);
}

}  // namespace mnistlab
