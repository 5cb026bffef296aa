#pragma once
// Winograd F(2x2, 3x3) input and output transforms, and the output gradient's (winograd.h), written for
// AVX-512 (winograd_transforms_avx512.cpp, compiled for that level). The
// scalar and AVX2 routes use the plain C++ transforms in winograd.cpp.
// As in winograd_products.h, plain values only: nothing inline is shared
// with code compiled for another level.
#include <cstddef>

namespace mnistlab::cpu {

struct WinogradTransform {
  int cin, cout, h, w, tiles_w;
  int ld;                      // floats from one channel's row of V (or M) to the next: the block's columns
  std::size_t v_step, m_step;  // floats from one of the 16 planes of V (or M) to the next
};

// V for tile rows [ty0, ty1) of x[cin][h][w]: columns up to cols, those past
// the block's tiles computed from the zeros around the image.
void winograd_input_avx512(const WinogradTransform& g, const float* x, int ty0, int ty1, int cols, float* v);
// y[cout][h][w] for tile rows [ty0, ty1) from M, plus bias (may be null), then ReLU if relu.
void winograd_output_avx512(const WinogradTransform& g, const float* m, int ty0, int ty1, const float* bias, bool relu,
                            float* y);
// T = A dy A^T for tile rows [ty0, ty1) of dy[cout][h][w], laid out as M
// (the weight gradient's second operand); only the block's tiles are written.
void winograd_output_gradient_avx512(const WinogradTransform& g, const float* dy, int ty0, int ty1, float* t);

}  // namespace mnistlab::cpu
