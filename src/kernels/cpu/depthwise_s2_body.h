#pragma once
// Depthwise 3x3, stride 2, padding 1, one output channel per input channel,
// output rows of at most 16 (DepthwisePlan::s2, AVX-512 only: it needs a
// permute of 32 floats from two registers). The plane is read where it
// lies, without the phase planes' copy: a vector holds R = s2_rows output
// rows (2 when they are at most 8 wide, as 14x14 -> 7x7: 14 of 16 lanes
// instead of 7), flat as y holds them, so it is loaded and stored whole.
// Per tap row ki the input rows those outputs read go into two registers A
// and B (R = 1: a row's columns 0..15 and 16..31; R = 2: the two rows), and
// tap kj's 16 inputs come out of A:B by one permute with
// s2_index[kj] (lane l: output row l / wo, column ow = l % wo, input column
// 2 ow + kj - 1), lanes off the plane zero by s2_mask[kj].
//
// The backward reads x the same way for the weight gradient (dy's vector
// loaded flat), and the input gradient two dx rows per dy row from dy
// itself (depthwise_body.h input_gradient_s2_3x3): nothing is copied.
//
// Vec: depthwise_body.h's list and the avx512 file's I (index register),
// index(p), mask(bits), permute2(a, index, b, mask).
#include <cstddef>

#include "kernels/cpu/depthwise_flat_body.h"
#include "kernels/cpu/depthwise_kernels.h"

namespace mnistlab::cpu {
namespace {
namespace depthwise {

// Ahead of the group starting at output row g (its 2 R input rows).
template <class Vec>
void s2_prefetch(const DepthwisePlan& p, const float* x, int g) {
  const float* at = x + std::ptrdiff_t(2 * g) * p.w + kPrefetchAhead;
  for (int k = 0; k < 2 * p.s2_rows * p.w; k += 16) __builtin_prefetch(at + k);
}

// The R-row group starting at output row g, tap row ki: A and B (zero
// where a row lies off the plane).
template <class Vec>
void s2_rows(const DepthwisePlan& p, const float* x, int g, int ki, typename Vec::T& a, typename Vec::T& b) {
  if (p.s2_rows == 1) {
    const int r = 2 * g + ki - 1;
    const bool in = r >= 0 && r < p.h;
    const float* row = x + std::ptrdiff_t(r) * p.w;
    a = in ? Vec::load_n(row, p.w < 16 ? p.w : 16) : Vec::zero();
    b = in && p.w > 16 ? Vec::load_n(row + 16, p.w - 16) : Vec::zero();
  } else {
    const int r0 = 2 * g + ki - 1, r1 = r0 + 2;
    a = r0 >= 0 && r0 < p.h ? Vec::load_n(x + std::ptrdiff_t(r0) * p.w, p.w) : Vec::zero();
    b = r1 >= 0 && r1 < p.h && g + 1 < p.ho ? Vec::load_n(x + std::ptrdiff_t(r1) * p.w, p.w) : Vec::zero();
  }
}

template <class Vec>
void forward_s2(const DepthwisePlan& p, const float* x, const float* weight, const float* bias, bool relu, float* y) {
  using T = typename Vec::T;
  T wv[9];
  for (int t = 0; t < 9; ++t) wv[t] = Vec::set1(weight[t]);
  const typename Vec::I index[3] = {Vec::index(p.s2_index[0]), Vec::index(p.s2_index[1]), Vec::index(p.s2_index[2])};
  const typename Vec::M mask[3] = {Vec::mask(p.s2_mask[0]), Vec::mask(p.s2_mask[1]), Vec::mask(p.s2_mask[2])};
  const T b = Vec::set1(bias ? bias[0] : 0.f);
  const int out = p.ho * p.wo, step = p.s2_rows * p.wo;
  for (int g = 0, o = 0; o < out; g += p.s2_rows, o += step) {
    s2_prefetch<Vec>(p, x, g);
    T acc = b;
#pragma GCC unroll 3
    for (int ki = 0; ki < 3; ++ki) {
      T lo, hi;
      s2_rows<Vec>(p, x, g, ki, lo, hi);
#pragma GCC unroll 3
      for (int kj = 0; kj < 3; ++kj) acc = Vec::fma(wv[ki * 3 + kj], Vec::permute2(lo, index[kj], hi, mask[kj]), acc);
    }
    if (relu) acc = Vec::relu(acc);
    Vec::store_n(y + o, acc, out - o < step ? out - o : step);
  }
}

// dweight (lanes) += sum dy * x at each tap, dbias (lanes) += sum dy.
template <class Vec>
void weight_gradient_s2(const DepthwisePlan& p, const float* x, const float* dy, float* dweight, float* dbias) {
  using T = typename Vec::T;
  const typename Vec::I index[3] = {Vec::index(p.s2_index[0]), Vec::index(p.s2_index[1]), Vec::index(p.s2_index[2])};
  const typename Vec::M mask[3] = {Vec::mask(p.s2_mask[0]), Vec::mask(p.s2_mask[1]), Vec::mask(p.s2_mask[2])};
  T dw[9], db = Vec::zero();
  for (int t = 0; t < 9; ++t) dw[t] = Vec::zero();
  const int out = p.ho * p.wo, step = p.s2_rows * p.wo;
  for (int g = 0, o = 0; o < out; g += p.s2_rows, o += step) {
    s2_prefetch<Vec>(p, x, g);
    __builtin_prefetch(dy + o + kPrefetchAhead);
    const T d = Vec::load_n(dy + o, out - o < step ? out - o : step);
    db = Vec::add(db, d);
#pragma GCC unroll 3
    for (int ki = 0; ki < 3; ++ki) {
      T lo, hi;
      s2_rows<Vec>(p, x, g, ki, lo, hi);
#pragma GCC unroll 3
      for (int kj = 0; kj < 3; ++kj) dw[ki * 3 + kj] = Vec::fma(d, Vec::permute2(lo, index[kj], hi, mask[kj]), dw[ki * 3 + kj]);
    }
  }
  for (int t = 0; t < 9; ++t) add_lanes<Vec>(dweight + t * kDepthwiseColumns, dw[t]);
  if (dbias) add_lanes<Vec>(dbias, db);
}

}  // namespace depthwise
}  // namespace
}  // namespace mnistlab::cpu
