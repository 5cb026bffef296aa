#pragma once
#include <cstdint>

namespace mnistlab::cpu {

struct PoolGeometry {
  int c, h, w, k, stride, pad;
  int ho() const { return (h + 2 * pad - k) / stride + 1; }
  int wo() const { return (w + 2 * pad - k) / stride + 1; }
};

// argmax holds, per output, the index within its input plane of the maximum.
void maxpool_forward(const PoolGeometry& g, const float* x, int n, float* y, int32_t* argmax);
void maxpool_backward(const PoolGeometry& g, const float* dy, const int32_t* argmax, int n, float* dx);

}  // namespace mnistlab::cpu
