#include "kernels/cpu/im2col.h"

#include <algorithm>
#include <cstring>

namespace mnistlab::cpu {

ConvGeometry::ConvGeometry(int c_, int h_, int w_, int kh_, int kw_, int stride_, int pad_)
    : c(c_), h(h_), w(w_), kh(kh_), kw(kw_), stride(stride_), pad(pad_) {
  auto sees_image = [&](int k, int size, int out) {
    for (int o = 0; o < out; ++o)
      if (o * stride - pad + k >= 0 && o * stride - pad + k < size) return true;
    return false;
  };
  for (int ki = 0; ki < kh; ++ki)
    for (int kj = 0; kj < kw; ++kj)
      if (sees_image(ki, h, ho()) && sees_image(kj, w, wo())) taps.push_back(ki * kw + kj);
}

// Outputs ow in [lo, hi) read input column ow*stride + kj - pad inside the image.
static void valid_outputs(const ConvGeometry& g, int kj, int wo, int& lo, int& hi) {
  const int shift = kj - g.pad;
  lo = shift >= 0 ? 0 : (-shift + g.stride - 1) / g.stride;
  hi = std::min(wo, (g.w - 1 - shift) / g.stride + 1);
  if (g.w - 1 - shift < 0) hi = 0;
  hi = std::max(hi, lo);
}

void im2col(const ConvGeometry& g, const float* x, int n, float* col) {
  const int ho = g.ho(), wo = g.wo(), k = g.k();
  const long cols = long(n) * ho * wo;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < k; ++r) {
    const int nt = int(g.taps.size()), c = r / nt, tap = g.taps[r % nt], ki = tap / g.kw, kj = tap % g.kw;
    float* out = col + r * cols;
    int lo, hi;
    valid_outputs(g, kj, wo, lo, hi);
    const int shift = kj - g.pad;
    for (int i = 0; i < n; ++i) {
      const float* plane = x + (long(i) * g.c + c) * g.h * g.w;
      for (int oh = 0; oh < ho; ++oh) {
        const int ih = oh * g.stride - g.pad + ki;
        float* row = out + (long(i) * ho + oh) * wo;
        if (ih < 0 || ih >= g.h) {
          std::memset(row, 0, sizeof(float) * wo);
          continue;
        }
        const float* in = plane + ih * g.w;
        for (int ow = 0; ow < lo; ++ow) row[ow] = 0.f;
        if (g.stride == 1) {
          if (hi > lo) std::memcpy(row + lo, in + lo + shift, sizeof(float) * (hi - lo));
        } else {
          for (int ow = lo; ow < hi; ++ow) row[ow] = in[ow * g.stride + shift];
        }
        for (int ow = hi; ow < wo; ++ow) row[ow] = 0.f;
      }
    }
  }
}

void col2im(const ConvGeometry& g, const float* col, int n, float* dx) {
  const int ho = g.ho(), wo = g.wo(), nt = int(g.taps.size());
  const long cols = long(n) * ho * wo;
#pragma omp parallel for collapse(2) schedule(static)
  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < g.c; ++c) {
      float* plane = dx + (long(i) * g.c + c) * g.h * g.w;
      std::memset(plane, 0, sizeof(float) * g.h * g.w);
      for (int t = 0; t < nt; ++t) {
        {
          const int ki = g.taps[t] / g.kw, kj = g.taps[t] % g.kw, shift = kj - g.pad;
          const float* src = col + long(c * nt + t) * cols + long(i) * ho * wo;
          int lo, hi;
          valid_outputs(g, kj, wo, lo, hi);
          for (int oh = 0; oh < ho; ++oh) {
            const int ih = oh * g.stride - g.pad + ki;
            if (ih < 0 || ih >= g.h) continue;
            float* out = plane + ih * g.w;
            const float* row = src + oh * wo;
            if (g.stride == 1) {
              for (int ow = lo; ow < hi; ++ow) out[ow + shift] += row[ow];
            } else {
              for (int ow = lo; ow < hi; ++ow) out[ow * g.stride + shift] += row[ow];
            }
          }
        }
      }
    }
  }
}

void pack_taps(const ConvGeometry& g, const float* weight, size_t rows, float* packed) {
  const size_t nt = g.taps.size(), kk = size_t(g.kh) * g.kw;
  for (size_t row = 0; row < rows; ++row)
    for (size_t t = 0; t < nt; ++t) packed[row * nt + t] = weight[row * kk + size_t(g.taps[t])];
}

void unpack_taps(const ConvGeometry& g, const float* packed, size_t rows, float* weight) {
  const size_t nt = g.taps.size(), kk = size_t(g.kh) * g.kw;
  std::fill(weight, weight + rows * kk, 0.f);
  for (size_t row = 0; row < rows; ++row)
    for (size_t t = 0; t < nt; ++t) weight[row * kk + size_t(g.taps[t])] = packed[row * nt + t];
}

}  // namespace mnistlab::cpu
