#pragma once
// The depthwise kernels' loops (depthwise_kernels.h says what they compute
// and how the planes are laid out), written once for a vector type Vec that
// each instruction set's file defines:
//
//   T, V             the register type and its floats
//   zero, set1, load, store, fma(a, b, c) = a * b + c, add, relu (NaN -> 0,
//   as relu_forward)
//   load_n(p, n), store_n(p, v, n)  the first n < V lanes (the others
//                                   read as zero, and never touched)
//   deinterleave2(a, b, e, o)       e = a0 a2 .. b0 b2 .., o = a1 a3 .. b1 b3 ..
//   store_interleaved2(p, e, o)     2V floats to p: e0 o0 e1 o1 ...
//   interleave2(e, o, lo, hi)       the same 2V floats into two registers
//
// Everything here has internal linkage: each file compiles its own copy for
// its level (winograd_products.h says why), and it calls no inline function
// of the standard library.
#include <cstddef>

#include "kernels/cpu/depthwise_flat_body.h"
#include "kernels/cpu/depthwise_kernels.h"

namespace mnistlab::cpu {
namespace {

namespace depthwise {

using std::size_t;

// dst[0, n) = src[0, n), whole vectors then one masked (a call to memcpy
// per row costs more than the row on these maps).
template <class Vec>
void copy_row(const float* src, int n, float* dst) {
  int i = 0;
  for (; i + Vec::V <= n; i += Vec::V) Vec::store(dst + i, Vec::load(src + i));
  if (i < n) Vec::store_n(dst + i, Vec::load_n(src + i, n - i), n - i);
}

// x's pixels into the phase planes (their padding stays as zero_work left it).
template <class Vec>
void fill_phases(const DepthwisePlan& p, const float* x, float* work) {
  using T = typename Vec::T;
  const int s = p.stride;
  for (int ih = 0; ih < p.h; ++ih) {
    const float* row = x + size_t(ih) * p.w;
    const size_t r = size_t(ih + p.pad) * p.xq;
    if (s == 1) {
      copy_row<Vec>(row, p.w, work + r + p.pad);
    } else if (s == 2) {
      // x[iw] is padded column iw + pad: its phase and column (iw + pad) % 2
      // and (iw + pad) / 2. The last pair of vectors is loaded masked and
      // stored whole: past the row's pixels it writes the zeros the padding
      // holds anyway, within the row (depthwise_plan leaves V columns spare).
      float* even = work + size_t(p.pad % 2) * p.phase_floats + r + p.pad / 2;
      float* odd = work + size_t((p.pad + 1) % 2) * p.phase_floats + r + (p.pad + 1) / 2;
      for (int iw = 0; iw < p.w; iw += 2 * Vec::V) {
        const int left = p.w - iw;
        T e, o;
        if (left >= 2 * Vec::V)
          Vec::deinterleave2(Vec::load(row + iw), Vec::load(row + iw + Vec::V), e, o);
        else if (left > Vec::V)
          Vec::deinterleave2(Vec::load(row + iw), Vec::load_n(row + iw + Vec::V, left - Vec::V), e, o);
        else
          Vec::deinterleave2(left == Vec::V ? Vec::load(row + iw) : Vec::load_n(row + iw, left), Vec::zero(), e, o);
        Vec::store(even + iw / 2, e);
        Vec::store(odd + iw / 2, o);
      }
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

// A 3x3 convolution of stride S over R output rows at once: out[a][c] (+)=
// sum over ki, kj of w[ki][kj] * in[a * S + ki] at column c + kj, phase kj %
// S, column c + kj / S (rows in_row floats apart, phases `phase` floats).
// R rows keep R independent chains of multiply-adds in flight (one chain of
// 9 waits on each multiply-add's latency), and each input row is loaded
// once for every output row that reads it. bias starts each output unless
// accumulate (then out's values do); relu clamps at the end.
template <class Vec, int S, int R>
void conv3_rows(const float* in, size_t in_row, size_t phase, const typename Vec::T* weights, typename Vec::T bias,
                bool accumulate, bool relu, float* out, size_t out_row, int width) {
  using T = typename Vec::T;
  constexpr int V = Vec::V;
  T wv[9];
#pragma GCC unroll 9
  for (int t = 0; t < 9; ++t) wv[t] = weights[t];
  for (int c = 0; c < width; c += V) {
    const int n = width - c < V ? width - c : V;
    T acc[R];
#pragma GCC unroll 4
    for (int a = 0; a < R; ++a)
      acc[a] = !accumulate ? bias : n == V ? Vec::load(out + a * out_row + c) : Vec::load_n(out + a * out_row + c, n);
#pragma GCC unroll 16
    for (int ii = 0; ii < (R - 1) * S + 3; ++ii)
#pragma GCC unroll 3
      for (int kj = 0; kj < 3; ++kj) {
        const T v = Vec::load(in + (kj % S) * phase + ii * in_row + kj / S + c);
#pragma GCC unroll 4
        for (int a = 0; a < R; ++a) {
          const int ki = ii - a * S;
          if (ki >= 0 && ki < 3) acc[a] = Vec::fma(wv[ki * 3 + kj], v, acc[a]);
        }
      }
#pragma GCC unroll 4
    for (int a = 0; a < R; ++a) {
      const T r = relu ? Vec::relu(acc[a]) : acc[a];
      if (n == V)
        Vec::store(out + a * out_row + c, r);
      else
        Vec::store_n(out + a * out_row + c, r, n);
    }
  }
}

// conv3_rows over `rows` output rows, four at a time.
template <class Vec, int S>
void conv3_plane(const float* in, size_t in_row, size_t phase, const typename Vec::T* weights, typename Vec::T bias,
                 bool accumulate, bool relu, float* out, size_t out_row, int rows, int width) {
  int r = 0;
  for (; r + 4 <= rows; r += 4)
    conv3_rows<Vec, S, 4>(in + r * S * in_row, in_row, phase, weights, bias, accumulate, relu, out + r * out_row,
                          out_row, width);
  const float* i = in + r * S * in_row;
  float* o = out + r * out_row;
  switch (rows - r) {
    case 3: return conv3_rows<Vec, S, 3>(i, in_row, phase, weights, bias, accumulate, relu, o, out_row, width);
    case 2: return conv3_rows<Vec, S, 2>(i, in_row, phase, weights, bias, accumulate, relu, o, out_row, width);
    case 1: return conv3_rows<Vec, S, 1>(i, in_row, phase, weights, bias, accumulate, relu, o, out_row, width);
  }
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
  if constexpr (K == 3) {
    if (p.stride <= 2) {
      for (int j = 0; j < p.multiplier; ++j) {
        T wv[9];
        for (int t = 0; t < 9; ++t) wv[t] = Vec::set1(weight[size_t(j) * 9 + t]);
        const T b = Vec::set1(bias ? bias[j] : 0.f);
        float* yj = y + size_t(j) * p.ho * wo;
        if (p.stride == 1)
          conv3_plane<Vec, 1>(work, p.xq, p.phase_floats, wv, b, false, relu, yj, wo, p.ho, wo);
        else
          conv3_plane<Vec, 2>(work, p.xq, p.phase_floats, wv, b, false, relu, yj, wo, p.ho, wo);
      }
      return;
    }
  }
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
        store_first<Vec>(out + ow, acc, wo - ow);
      }
    }
  }
}

// dweight[j][t] += sum over outputs of dy * the input tap t saw; dbias[j]
// += sum of dy; each as kDepthwiseColumns partial sums (lanes, add_lanes),
// added up once at the end of the call, not per plane.

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
      const float* d = dyj + size_t(p.dy_top + oh) * p.dq + p.lq;
      for (int v = 0; v < vectors; ++v) {
        const T g = Vec::load(d + v * V);
        db = Vec::add(db, g);
#pragma GCC unroll 25
        for (int t = 0; t < K * K; ++t) acc[t] = Vec::fma(g, Vec::load(base + offset[t] + v * V), acc[t]);
      }
    }
    for (int t = 0; t < K * K; ++t) add_lanes<Vec>(dwj + t * kDepthwiseColumns, acc[t]);
  } else {
    for (int ki = 0; ki < k; ++ki)
      for (int kj = 0; kj < k; ++kj) {
        const size_t offset = tap_offset(p, ki, kj);
        T acc = Vec::zero();
        for (int oh = 0; oh < p.ho; ++oh) {
          const float* base = phases + oh * row_step + offset;
          const float* d = dyj + size_t(p.dy_top + oh) * p.dq + p.lq;
          for (int v = 0; v < vectors; ++v) acc = Vec::fma(Vec::load(d + v * V), Vec::load(base + v * V), acc);
        }
        add_lanes<Vec>(dwj + (ki * k + kj) * kDepthwiseColumns, acc);
      }
    for (int oh = 0; oh < p.ho; ++oh)
      for (int v = 0; v < vectors; ++v) db = Vec::add(db, Vec::load(dyj + size_t(p.dy_top + oh) * p.dq + p.lq + v * V));
  }
  if (dbj) add_lanes<Vec>(dbj, db);
}

// out[t] (+)= sum over a < NR, b < NJ of w[a][b] * rows[a][t - b], t < tq:
// the weights held in registers across the row.
template <class Vec, int NR, int NJ>
void gradient_rows(const float* const* rows, const float* w, int tq, bool first, float* out) {
  using T = typename Vec::T;
  T wv[NR > 0 ? NR : 1][NJ];
#pragma GCC unroll 3
  for (int a = 0; a < NR; ++a)
#pragma GCC unroll 3
    for (int b = 0; b < NJ; ++b) wv[a][b] = Vec::set1(w[a * NJ + b]);
  for (int t = 0; t < tq; t += Vec::V) {
    T acc = first ? Vec::zero() : Vec::load(out + t);
#pragma GCC unroll 3
    for (int a = 0; a < NR; ++a)
#pragma GCC unroll 3
      for (int b = 0; b < NJ; ++b) acc = Vec::fma(wv[a][b], Vec::load(rows[a] + t - b), acc);
    Vec::store(out + t, acc);
  }
}

// One phase r of padded row R of the input gradient, columns t < tq:
// out[t] = sum over j, the taps (ki, kj = r + stride * jj) and dy's rows
// oh = (R - ki) / stride of w[j][ki][kj] * dy[j][oh][t - jj].
// S: the stride when known at compile time (2: no divisions in the row setup), 0 for any.
template <class Vec, int K, int S>
void input_gradient_phase(const DepthwisePlan& p, const float* dy, const float* weight, int R, int r, float* out) {
  using T = typename Vec::T;
  constexpr int V = Vec::V;
  const int k = K ? K : p.k, s = S ? S : p.stride, taps = k * k;
  if constexpr (K == 3) {
    // Per output channel j: the dy rows this row sees (ki = R mod stride)
    // and their taps' weights, then one pass over the row per j.
    const int nj = (K - 1 - r) / s + 1;
    for (int j = 0; j < p.multiplier; ++j) {
      const float* rows[K];
      float w[K * K];
      int nr = 0;
      for (int ki = 0; ki < K; ++ki) {
        const int q = R - ki;
        if (q < 0 || q % s != 0 || q / s >= p.ho) continue;
        rows[nr] = dy + j * p.dy_floats + size_t(p.dy_top + q / s) * p.dq + p.lq;
        for (int kj = r, jj = 0; kj < K; kj += s, ++jj) w[nr * nj + jj] = weight[size_t(j) * taps + ki * K + kj];
        ++nr;
      }
      const bool first = j == 0;
      switch (nr * 4 + nj) {
        case 0 * 4 + 1: case 0 * 4 + 2: case 0 * 4 + 3:
          if (first) gradient_rows<Vec, 0, 1>(rows, w, p.tq, true, out);
          break;
        case 1 * 4 + 1: gradient_rows<Vec, 1, 1>(rows, w, p.tq, first, out); break;
        case 1 * 4 + 2: gradient_rows<Vec, 1, 2>(rows, w, p.tq, first, out); break;
        case 1 * 4 + 3: gradient_rows<Vec, 1, 3>(rows, w, p.tq, first, out); break;
        case 2 * 4 + 1: gradient_rows<Vec, 2, 1>(rows, w, p.tq, first, out); break;
        case 2 * 4 + 2: gradient_rows<Vec, 2, 2>(rows, w, p.tq, first, out); break;
        case 2 * 4 + 3: gradient_rows<Vec, 2, 3>(rows, w, p.tq, first, out); break;
        case 3 * 4 + 1: gradient_rows<Vec, 3, 1>(rows, w, p.tq, first, out); break;
        case 3 * 4 + 2: gradient_rows<Vec, 3, 2>(rows, w, p.tq, first, out); break;
        case 3 * 4 + 3: gradient_rows<Vec, 3, 3>(rows, w, p.tq, first, out); break;
      }
    }
    return;
  }
  for (int t = 0; t < p.tq; t += V) {
    T acc = Vec::zero();
    for (int j = 0; j < p.multiplier; ++j) {
      const float* dyj = dy + j * p.dy_floats + p.lq + t;
      const float* wj = weight + size_t(j) * taps;
      for (int ki = 0; ki < k; ++ki) {
        const int q = R - ki;
        if (q < 0 || q % s != 0 || q / s >= p.ho) continue;
        const float* d = dyj + size_t(p.dy_top + q / s) * p.dq;
        for (int kj = r, jj = 0; kj < k; kj += s, ++jj) acc = Vec::fma(Vec::set1(wj[ki * k + kj]), Vec::load(d - jj), acc);
      }
    }
    Vec::store(out + t, acc);
  }
}

// dx[0, n) = the first n of o0 e0 o1 e1 ... (a row's end by masked stores).
template <class Vec>
void store_pairs(float* dst, typename Vec::T o, typename Vec::T e, int n) {
  constexpr int V = Vec::V;
  typename Vec::T lo, hi;
  Vec::interleave2(o, e, lo, hi);
  if (n >= V) {
    Vec::store(dst, lo);
    if (n >= 2 * V)
      Vec::store(dst + V, hi);
    else if (n > V)
      Vec::store_n(dst + V, hi, n - V);
  } else {
    Vec::store_n(dst, lo, n);
  }
}

// The first n (< 0: none, >= V: all) floats at p, zero past them.
template <class Vec>
typename Vec::T load_upto(const float* p, int n) {
  return n >= Vec::V ? Vec::load(p) : n > 0 ? Vec::load_n(p, n) : Vec::zero();
}

// The input gradient of a stride-2, pad-1 3x3 with one output channel per
// input channel, read from dy itself (ho rows of wo), two rows of dx per
// row a of dy, the weights in registers: dx row 2a reads dy row a (ki =
// 1), row 2a + 1 dy rows a + 1 (ki = 0) and a (ki = 2); column 2t takes kj
// = 1 at dy column t, column 2t + 1 kj = 0 at t + 1 and kj = 2 at t (dy's
// columns past wo and its row ho read as zero, by masked loads).
template <class Vec>
void input_gradient_s2_3x3(const DepthwisePlan& p, const float* dy, const float* weight, float* dx) {
  using T = typename Vec::T;
  constexpr int V = Vec::V;
  T w[9];
  for (int t = 0; t < 9; ++t) w[t] = Vec::set1(weight[t]);
  const T z = Vec::zero();
  const int pairs = (p.w + 1) / 2;
  for (int a = 0; 2 * a < p.h; ++a) {
    const float* r0 = dy + size_t(a) * p.wo;
    const float* r1 = a + 1 < p.ho ? r0 + p.wo : nullptr;
    float* x0 = dx + size_t(2 * a) * p.w;
    float* x1 = x0 + p.w;
    const bool second = 2 * a + 1 < p.h;
    __builtin_prefetch(r0 + kPrefetchAhead);
    for (int t = 0; t < pairs; t += V) {
      const T d0 = load_upto<Vec>(r0 + t, p.wo - t), d0n = load_upto<Vec>(r0 + t + 1, p.wo - t - 1);
      const int n = p.w - 2 * t;
      store_pairs<Vec>(x0 + 2 * t, Vec::fma(w[4], d0, z), Vec::fma(w[3], d0n, Vec::fma(w[5], d0, z)), n);
      if (second) {
        const T d1 = r1 ? load_upto<Vec>(r1 + t, p.wo - t) : z, d1n = r1 ? load_upto<Vec>(r1 + t + 1, p.wo - t - 1) : z;
        const T o = Vec::fma(w[1], d1, Vec::fma(w[7], d0, z));
        const T e = Vec::fma(w[0], d1n, Vec::fma(w[2], d1, Vec::fma(w[6], d0n, Vec::fma(w[8], d0, z))));
        store_pairs<Vec>(x1 + 2 * t, o, e, n);
      }
    }
  }
}

template <class Vec, int K>
void backward_plane(const DepthwisePlan& p, const float* x, const float* dy, const float* weight, float* dweight,
                    float* dbias, float* dx, float* work) {
  using T = typename Vec::T;
  constexpr int V = Vec::V;
  const int k = K ? K : p.k, s = p.stride, m = p.multiplier;
  fill_phases<Vec>(p, x, work);
  float* dyb = work + size_t(s) * p.phase_floats;
  float* phase_rows = dyb + size_t(m) * p.dy_floats;  // s rows of tq
  float* row = phase_rows + size_t(s) * p.tq;         // the padded row, interleaved
  for (int j = 0; j < m; ++j)
    for (int oh = 0; oh < p.ho; ++oh)
      copy_row<Vec>(dy + (size_t(j) * p.ho + oh) * p.wo, p.wo, dyb + j * p.dy_floats + size_t(p.dy_top + oh) * p.dq + p.lq);
  for (int j = 0; j < m; ++j)
    weight_gradient<Vec, K>(p, work, dyb + j * p.dy_floats, dweight + size_t(j) * k * k * kDepthwiseColumns,
                            dbias ? dbias + j * kDepthwiseColumns : nullptr);
  if (!dx) return;
  if constexpr (K == 3) {
    if (s == 1 && p.dy_top == 2 - p.pad) {
      // The input gradient of a stride-1 3x3 is the 3x3 convolution of dy,
      // padded by 2 - pad, with the kernel flipped: row ih reads dy's
      // padded rows ih .. ih + 2, columns from pad (dy's row sits at lq = 2).
      for (int j = 0; j < m; ++j) {
        T wv[9];
        for (int t = 0; t < 9; ++t) wv[t] = Vec::set1(weight[size_t(j) * 9 + 8 - t]);
        conv3_plane<Vec, 1>(dyb + j * p.dy_floats + p.pad, p.dq, 0, wv, Vec::zero(), j > 0, false, dx, p.w, p.h,
                            p.w);
      }
      return;
    }
    if (s == 2 && p.pad == 1 && m == 1) return input_gradient_s2_3x3<Vec>(p, dy, weight, dx);
  }
  for (int ih = 0; ih < p.h; ++ih) {
    const int R = ih + p.pad;
    if (s == 1) {
      input_gradient_phase<Vec, K, 1>(p, dyb, weight, R, 0, row);
    } else {
      for (int r = 0; r < s; ++r) {
        float* phase_row = phase_rows + size_t(r) * p.tq;
        if (s == 2)
          input_gradient_phase<Vec, K, 2>(p, dyb, weight, R, r, phase_row);
        else
          input_gradient_phase<Vec, K, 0>(p, dyb, weight, R, r, phase_row);
      }
      if (s == 2) {
        for (int t = 0; t < p.tq; t += V)
          Vec::store_interleaved2(row + 2 * t, Vec::load(phase_rows + t), Vec::load(phase_rows + p.tq + t));
      } else {
        for (int r = 0; r < s; ++r)
          for (int t = 0; t < p.tq; ++t) row[t * s + r] = phase_rows[size_t(r) * p.tq + t];
      }
    }
    copy_row<Vec>(row + p.pad, p.w, dx + size_t(ih) * p.w);
  }
}

template <class Vec>
void forward(const DepthwisePlan& p, const float* x, const float* weight, const float* bias, bool relu, float* y,
             float* work) {
  if (p.flat) return forward_flat<Vec>(p, x, weight, bias, relu, y);
  if (p.k == 3) return forward_plane<Vec, 3>(p, x, weight, bias, relu, y, work);
  forward_plane<Vec, 0>(p, x, weight, bias, relu, y, work);
}

template <class Vec>
void backward(const DepthwisePlan& p, const float* x, const float* dy, const float* weight, float* dweight,
              float* dbias, float* dx, float* work) {
  if (p.flat) {
    if (dx) return backward_flat<Vec, true>(p, x, dy, weight, dweight, dbias, dx);
    return backward_flat<Vec, false>(p, x, dy, weight, dweight, dbias, dx);
  }
  if (p.k == 3) return backward_plane<Vec, 3>(p, x, dy, weight, dweight, dbias, dx, work);
  backward_plane<Vec, 0>(p, x, dy, weight, dweight, dbias, dx, work);
}

}  // namespace depthwise
}  // namespace
}  // namespace mnistlab::cpu
