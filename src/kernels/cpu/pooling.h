#pragma once
#include <cstdint>

#include "kernels/backend.h"
#include "kernels/cpu/isa.h"

namespace mnistlab::cpu {

using PoolGeometry = PoolShape;

// argmax holds, per output, the index within its input plane of the maximum
// (null: not kept, eval mode).
void maxpool_forward(int threads, Isa isa, const PoolGeometry& g, const float* x, int n, float* y, int32_t* argmax);
void maxpool_backward(int threads, const PoolGeometry& g, const float* dy, const int32_t* argmax, int n, float* dx);

}  // namespace mnistlab::cpu
