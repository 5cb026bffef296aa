#pragma once
// Pooling kernels written for one instruction set (pooling_avx512.cpp). Plain
// values only: nothing inline is shared with code compiled for another level.
#include <cstdint>

namespace mnistlab::cpu {

// One plane [h][w] of a 2x2 stride-2 max pooling into out[h/2][w/2], and the
// maxima's positions in the plane into arg (unless null).
void maxpool_2x2_plane_avx512(const float* in, int h, int w, float* out, int32_t* arg);

}  // namespace mnistlab::cpu
