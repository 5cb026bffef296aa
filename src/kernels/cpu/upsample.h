#pragma once
// Upsample (nn.Upsample(scale_factor=S), integer S) over NCHW: nearest, or
// bilinear with align_corners=False; one plane (image, channel) per unit of
// work.
#include "kernels/backend.h"

namespace mnistlab::cpu {

void upsample_forward(int threads, const UpsampleShape& g, const float* x, int n, float* y);
// Overwrites dx.
void upsample_backward(int threads, const UpsampleShape& g, const float* dy, int n, float* dx);

}  // namespace mnistlab::cpu
