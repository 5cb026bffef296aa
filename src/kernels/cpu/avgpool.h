#pragma once
// AvgPool2d (count_include_pad=True, ceil_mode=False) and AdaptiveAvgPool2d(1)
// over NCHW, one plane (image, channel) per unit of work.
#include <cstddef>

#include "kernels/backend.h"

namespace mnistlab::cpu {

// y = the window's sum / (k * k), padding counted as zeros.
void avgpool_forward(int threads, const PoolShape& g, const float* x, int n, float* y);
// Overwrites dx: each dy / (k * k) added to the inputs of its window.
void avgpool_backward(int threads, const PoolShape& g, const float* dy, int n, float* dx);

// y[p] = the mean of plane p's hw values; dx[p][j] = dy[p] / hw.
void global_avgpool_forward(int threads, const float* x, size_t planes, int hw, float* y);
void global_avgpool_backward(int threads, const float* dy, size_t planes, int hw, float* dx);

}  // namespace mnistlab::cpu
