#pragma once
// The "flat" depthwise 3x3 loops: stride 1, padding 1, one output channel
// per input channel (depthwise_kernels.h, DepthwisePlan::flat). The plane
// is read where it lies, as h * w contiguous floats: a vector covers V
// consecutive pixels whatever rows they belong to (a 14-wide row does not
// waste a quarter of a 16-lane register, a 28-wide one is 1.75 vectors, not
// 2), and each tap is one masked load at the pixel's offset (ki - 1) * w +
// kj - 1, its lanes that would fall off the plane's edges masked to zero.
// So nothing is copied or padded: the forward reads x and writes y once,
// the backward reads x and dy and writes dx once, computing the input,
// weight and bias gradients in the same sweep.
//
// The masks come from a table made once per layer (depthwise_plan's
// flat_masks, for the instruction set's V): per vector, five lane masks:
// left (lanes not in column 0: a kj = 0 tap exists), right (not in column
// w - 1), and for ki = 0, 1, 2 the lanes whose row above / own / below
// lies in the plane (the own row's mask is the plane's end).
//
// Masked lanes read no memory (AVX-512 and AVX2 masked loads suppress
// faults; the scalar load is not executed), so a tap of the plane's first
// pixels may point before the plane, even before the tensor.
//
// Each instruction set's file includes this after defining its Vec
// (depthwise_body.h's list, and M, mask(bits), both(a, b), load_m(p, m):
// the masked load, zero in masked lanes).
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/depthwise_kernels.h"

namespace mnistlab::cpu {
namespace {
namespace depthwise {

// A vector added into kDepthwiseColumns partial sums (lanes) of a weight or
// bias gradient; the caller adds the lanes up once per call.
template <class Vec>
void add_lanes(float* lanes, typename Vec::T v) {
  Vec::store(lanes, Vec::add(Vec::load(lanes), v));
}

// The first n floats of v at p: a whole vector when n >= V, else n lanes.
template <class Vec>
void store_first(float* p, typename Vec::T v, std::ptrdiff_t n) {
  if (n >= Vec::V)
    Vec::store(p, v);
  else
    Vec::store_n(p, v, int(n));
}

// How far ahead of the pixel being computed the flat and in-place loops
// prefetch (floats): measured on the 28x28 planes, whose layers stream from
// memory, the masked loads alone ran at 2/3 of the copying kernels' rate.
constexpr int kPrefetchAhead = 512;

// The nine taps' masks of one vector, [ki * 3 + kj].
template <class Vec>
void flat_tap_masks(const std::uint32_t* m, typename Vec::M* out) {
  const typename Vec::M left = Vec::mask(m[0]), right = Vec::mask(m[1]);
#pragma GCC unroll 3
  for (int ki = 0; ki < 3; ++ki) {
    const typename Vec::M row = Vec::mask(m[2 + ki]);
    out[ki * 3] = Vec::both(row, left), out[ki * 3 + 1] = row, out[ki * 3 + 2] = Vec::both(row, right);
  }
}

// One vector of the forward at pixel i: three chains (one per tap row)
// summed at the end, so consecutive vectors' multiply-adds overlap instead
// of waiting on one chain of nine.
template <class Vec>
typename Vec::T forward_flat_vector(const float* x, std::ptrdiff_t i, int w, const typename Vec::T* wv,
                                    typename Vec::T b, const std::uint32_t* m) {
  using T = typename Vec::T;
  typename Vec::M mk[9];
  flat_tap_masks<Vec>(m, mk);
  T acc[3] = {b, Vec::zero(), Vec::zero()};
#pragma GCC unroll 3
  for (int ki = 0; ki < 3; ++ki)
#pragma GCC unroll 3
    for (int kj = 0; kj < 3; ++kj)
      acc[ki] = Vec::fma(wv[ki * 3 + kj], Vec::load_m(x + i + (ki - 1) * w + (kj - 1), mk[ki * 3 + kj]), acc[ki]);
  return Vec::add(Vec::add(acc[0], acc[1]), acc[2]);
}

// y = w (*) x + bias, then max(0, .) when relu: one pass over the plane.
template <class Vec>
void forward_flat(const DepthwisePlan& p, const float* x, const float* weight, const float* bias, bool relu,
                  float* y) {
  using T = typename Vec::T;
  constexpr int V = Vec::V;
  const int w = p.w, n = p.h * p.w;
  T wv[9];
  for (int t = 0; t < 9; ++t) wv[t] = Vec::set1(weight[t]);
  const T b = Vec::set1(bias ? bias[0] : 0.f);
  const std::uint32_t* m = p.masks;
  for (int i = 0; i < n; i += V, m += kFlatMasks) {
    __builtin_prefetch(x + i + kPrefetchAhead);
    T acc = forward_flat_vector<Vec>(x, i, w, wv, b, m);
    if (relu) acc = Vec::relu(acc);
    store_first<Vec>(y + i, acc, n - i);
  }
}

// One sweep: dweight[t] (lanes) += sum dy * x at tap t, dbias (lanes) +=
// sum dy, and, when DX, dx = the flipped kernel (*) dy (stride 1, pad 1:
// dx[q] = sum of w[ki][kj] dy[q - (ki - 1) w - (kj - 1)], whose lanes
// fall off the plane exactly where tap (2 - ki, 2 - kj)'s do).
template <class Vec, bool DX>
void backward_flat(const DepthwisePlan& p, const float* x, const float* dy, const float* weight, float* dweight,
                   float* dbias, float* dx) {
  using T = typename Vec::T;
  constexpr int V = Vec::V;
  const int w = p.w, n = p.h * p.w;
  T flipped[9], dw[9];
  for (int t = 0; t < 9; ++t) flipped[t] = Vec::set1(weight[8 - t]), dw[t] = Vec::zero();
  T db = Vec::zero();
  const std::uint32_t* m = p.masks;
  for (int i = 0; i < n; i += V, m += kFlatMasks) {
    __builtin_prefetch(x + i + kPrefetchAhead);
    __builtin_prefetch(dy + i + kPrefetchAhead);
    typename Vec::M mk[9];
    flat_tap_masks<Vec>(m, mk);
    const T g = Vec::load_m(dy + i, mk[4]);
    db = Vec::add(db, g);
    T acc[3] = {Vec::zero(), Vec::zero(), Vec::zero()};  // dx, a chain per tap row (forward_flat_vector says why)
#pragma GCC unroll 3
    for (int ki = 0; ki < 3; ++ki)
#pragma GCC unroll 3
      for (int kj = 0; kj < 3; ++kj) {
        const int t = ki * 3 + kj;
        const std::ptrdiff_t at = i + (ki - 1) * w + (kj - 1);
        dw[t] = Vec::fma(g, Vec::load_m(x + at, mk[t]), dw[t]);
        if constexpr (DX) acc[ki] = Vec::fma(flipped[t], Vec::load_m(dy + at, mk[t]), acc[ki]);
      }
    if constexpr (DX) {
      store_first<Vec>(dx + i, Vec::add(Vec::add(acc[0], acc[1]), acc[2]), n - i);
    }
  }
  for (int t = 0; t < 9; ++t) add_lanes<Vec>(dweight + t * kDepthwiseColumns, dw[t]);
  if (dbias) add_lanes<Vec>(dbias, db);
}

}  // namespace depthwise
}  // namespace
}  // namespace mnistlab::cpu
