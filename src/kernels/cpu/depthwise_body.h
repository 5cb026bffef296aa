#pragma once
// The depthwise kernels' loops (depthwise_kernels.h says what they compute
// and how the planes are laid out), written once for a vector type Vec that
// each instruction set's file defines:
//
//   T, V             the register type and its floats
//   zero, set1, load, store, fma(a, b, c) = a * b + c, add, relu (NaN -> 0,
//   as relu_forward), sum (of the lanes)
//   store_n(p, v, n)            the first n < V lanes
//   load_deinterleaved2(p, e, o) 2V floats from p: the even ones, the odd ones
//   store_interleaved2(p, e, o)  2V floats to p: e0 o0 e1 o1 ...
//
// Everything here has internal linkage: each file compiles its own copy for
// its level (winograd_products.h says why), and it calls no inline function
// of the standard library.
#include <cstddef>
#include <cstring>

#include "kernels/cpu/depthwise_kernels.h"

namespace mnistlab::cpu {
namespace {

namespace depthwise {

using std::size_t;

// x's pixels into the phase planes (their padding stays as zero_work left it).
template <class Vec>
void fill_phases(const DepthwisePlan& p, const float* x, float* work) {
  using T = typename Vec::T;
  const int s = p.stride;
  for (int ih = 0; ih < p.h; ++ih) {
    const float* row = x + size_t(ih) * p.w;
    const size_t r = size_t(ih + p.pad) * p.xq;
    if (s == 1) {
      std::memcpy(work + r + p.pad, row, sizeof(float) * p.w);
    } else if (s == 2) {
      // x[iw] is padded column iw + pad: its phase and column (iw + pad) % 2 and (iw + pad) / 2.
      float* even = work + size_t(p.pad % 2) * p.phase_floats + r + p.pad / 2;
      float* odd = work + size_t((p.pad + 1) % 2) * p.phase_floats + r + (p.pad + 1) / 2;
      int iw = 0;
      for (; iw + 2 * Vec::V <= p.w; iw += 2 * Vec::V) {
        T e, o;
        Vec::load_deinterleaved2(row + iw, e, o);
        Vec::store(even + iw / 2, e);
        Vec::store(odd + iw / 2, o);
      }
      for (; iw < p.w; ++iw) (iw % 2 ? odd : even)[iw / 2] = row[iw];
    } else {
      for (int iw = 0; iw < p.w; ++iw) {
        const int c = iw + p.pad;
        work[size_t(c % s) * p.phase_floats + r + c / s] = row[iw];
      }
    }
  }
}

// Where tap (ki, kj) of output (oh, ow) reads, from phase 0's row oh * stride, column ow.
inline size_t tap_offset(const DepthwisePlan& p, int ki, int kj) {
  return size_t(kj % p.stride) * p.phase_floats + size_t(ki) * p.xq + kj / p.stride;
}

// K: the kernel size when it is known at compile time (3: the taps
// unrolled, weights held in registers), 0 for any other.
template <class Vec, int K>
void forward_plane(const DepthwisePlan& p, const float* x, const float* weight, const float* bias, bool relu,
                   float* y, float* work) {
  using T = typename Vec::T;
  constexpr int V = Vec::V;
  fill_phases<Vec>(p, x, work);
  const int k = K ? K : p.k, taps = k * k, wo = p.wo;
  const size_t row_step = size_t(p.stride) * p.xq;
  size_t offset[K ? K * K : 1];
  if constexpr (K > 0)
    for (int t = 0; t < K * K; ++t) offset[t] = tap_offset(p, t / K, t % K);
  for (int j = 0; j < p.multiplier; ++j) {
    const float* wj = weight + size_t(j) * taps;
    const T b = Vec::set1(bias ? bias[j] : 0.f);
    float* yj = y + size_t(j) * p.ho * wo;
    T wv[K ? K * K : 1];
    if constexpr (K > 0)
      for (int t = 0; t < K * K; ++t) wv[t] = Vec::set1(wj[t]);
    for (int oh = 0; oh < p.ho; ++oh) {
      const float* base = work + oh * row_step;
      float* out = yj + size_t(oh) * wo;
      for (int ow = 0; ow < wo; ow += V) {
        T acc = b;
        if constexpr (K > 0) {
#pragma GCC unroll 25
          for (int t = 0; t < K * K; ++t) acc = Vec::fma(wv[t], Vec::load(base + offset[t] + ow), acc);
        } else {
          for (int ki = 0; ki < k; ++ki)
            for (int kj = 0; kj < k; ++kj)
              acc = Vec::fma(Vec::set1(wj[ki * k + kj]), Vec::load(base + tap_offset(p, ki, kj) + ow), acc);
        }
        if (relu) acc = Vec::relu(acc);
        if (wo - ow >= V)
          Vec::store(out + ow, acc);
        else
          Vec::store_n(out + ow, acc, wo - ow);
      }
    }
  }
}

// dweight[j][t] += sum over outputs of dy * the input tap t saw; dbias[j] += sum of dy.
template <class Vec, int K>
void weight_gradient(const DepthwisePlan& p, const float* phases, const float* dyj, float* dwj, float* dbj) {
  using T = typename Vec::T;
  constexpr int V = Vec::V;
  const int k = K ? K : p.k;
  const size_t row_step = size_t(p.stride) * p.xq;
  const int vectors = (p.wo + V - 1) / V;  // dy's planes are zero past wo
  T db = Vec::zero();
  if constexpr (K > 0) {
    size_t offset[K * K];
    T acc[K * K];
    for (int t = 0; t < K * K; ++t) offset[t] = tap_offset(p, t / K, t % K), acc[t] = Vec::zero();
    for (int oh = 0; oh < p.ho; ++oh) {
      const float* base = phases + oh * row_step;
      const float* d = dyj + size_t(oh) * p.dq + p.lq;
      for (int v = 0; v < vectors; ++v) {
        const T g = Vec::load(d + v * V);
        db = Vec::add(db, g);
#pragma GCC unroll 25
        for (int t = 0; t < K * K; ++t) acc[t] = Vec::fma(g, Vec::load(base + offset[t] + v * V), acc[t]);
      }
    }
    for (int t = 0; t < K * K; ++t) dwj[t] += Vec::sum(acc[t]);
  } else {
    for (int ki = 0; ki < k; ++ki)
      for (int kj = 0; kj < k; ++kj) {
        const size_t offset = tap_offset(p, ki, kj);
        T acc = Vec::zero();
        for (int oh = 0; oh < p.ho; ++oh) {
          const float* base = phases + oh * row_step + offset;
          const float* d = dyj + size_t(oh) * p.dq + p.lq;
          for (int v = 0; v < vectors; ++v) acc = Vec::fma(Vec::load(d + v * V), Vec::load(base + v * V), acc);
        }
        dwj[ki * k + kj] += Vec::sum(acc);
      }
    for (int oh = 0; oh < p.ho; ++oh)
      for (int v = 0; v < vectors; ++v) db = Vec::add(db, Vec::load(dyj + size_t(oh) * p.dq + p.lq + v * V));
  }
  if (dbj) *dbj += Vec::sum(db);
}

// One phase r of padded row R of the input gradient, columns t < tq:
// out[t] = sum over j, the taps (ki, kj = r + stride * jj) and dy's rows
// oh = (R - ki) / stride of w[j][ki][kj] * dy[j][oh][t - jj].
template <class Vec, int K>
void input_gradient_phase(const DepthwisePlan& p, const float* dy, const float* weight, int R, int r, float* out) {
  using T = typename Vec::T;
  constexpr int V = Vec::V;
  const int k = K ? K : p.k, s = p.stride, taps = k * k;
  for (int t = 0; t < p.tq; t += V) {
    T acc = Vec::zero();
    for (int j = 0; j < p.multiplier; ++j) {
      const float* dyj = dy + j * p.dy_floats + p.lq + t;
      const float* wj = weight + size_t(j) * taps;
#pragma GCC unroll 3
      for (int ki = 0; ki < k; ++ki) {
        const int q = R - ki;
        if (q < 0 || q % s != 0 || q / s >= p.ho) continue;
        const float* d = dyj + size_t(q / s) * p.dq;
#pragma GCC unroll 3
        for (int kj = r, jj = 0; kj < k; kj += s, ++jj) acc = Vec::fma(Vec::set1(wj[ki * k + kj]), Vec::load(d - jj), acc);
      }
    }
    Vec::store(out + t, acc);
  }
}

template <class Vec, int K>
void backward_plane(const DepthwisePlan& p, const float* x, const float* dy, const float* weight, float* dweight,
                    float* dbias, float* dx, float* work) {
  constexpr int V = Vec::V;
  const int k = K ? K : p.k, s = p.stride, m = p.multiplier;
  fill_phases<Vec>(p, x, work);
  float* dyb = work + size_t(s) * p.phase_floats;
  float* phase_rows = dyb + size_t(m) * p.dy_floats;  // s rows of tq
  float* row = phase_rows + size_t(s) * p.tq;         // the padded row, interleaved
  for (int j = 0; j < m; ++j)
    for (int oh = 0; oh < p.ho; ++oh)
      std::memcpy(dyb + j * p.dy_floats + size_t(oh) * p.dq + p.lq, dy + (size_t(j) * p.ho + oh) * p.wo,
                  sizeof(float) * p.wo);
  for (int j = 0; j < m; ++j)
    weight_gradient<Vec, K>(p, work, dyb + j * p.dy_floats, dweight + size_t(j) * k * k, dbias ? dbias + j : nullptr);
  if (!dx) return;
  for (int ih = 0; ih < p.h; ++ih) {
    const int R = ih + p.pad;
    if (s == 1) {
      input_gradient_phase<Vec, K>(p, dyb, weight, R, 0, row);
    } else {
      for (int r = 0; r < s; ++r) input_gradient_phase<Vec, K>(p, dyb, weight, R, r, phase_rows + size_t(r) * p.tq);
      if (s == 2) {
        for (int t = 0; t < p.tq; t += V)
          Vec::store_interleaved2(row + 2 * t, Vec::load(phase_rows + t), Vec::load(phase_rows + p.tq + t));
      } else {
        for (int r = 0; r < s; ++r)
          for (int t = 0; t < p.tq; ++t) row[t * s + r] = phase_rows[size_t(r) * p.tq + t];
      }
    }
    std::memcpy(dx + size_t(ih) * p.w, row + p.pad, sizeof(float) * p.w);
  }
}

template <class Vec>
void forward(const DepthwisePlan& p, const float* x, const float* weight, const float* bias, bool relu, float* y,
             float* work) {
  if (p.k == 3) return forward_plane<Vec, 3>(p, x, weight, bias, relu, y, work);
  forward_plane<Vec, 0>(p, x, weight, bias, relu, y, work);
}

template <class Vec>
void backward(const DepthwisePlan& p, const float* x, const float* dy, const float* weight, float* dweight,
              float* dbias, float* dx, float* work) {
  if (p.k == 3) return backward_plane<Vec, 3>(p, x, dy, weight, dweight, dbias, dx, work);
  backward_plane<Vec, 0>(p, x, dy, weight, dweight, dbias, dx, work);
}

}  // namespace depthwise
}  // namespace
}  // namespace mnistlab::cpu
