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

void im2col(const ConvGeometry& g, const float* x, int n, float* col) {
  const int ho = g.ho(), wo = g.wo(), k = g.k();
  const long cols = long(n) * ho * wo;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < k; ++r) {
    const int nt = int(g.taps.size()), c = r / nt, tap = g.taps[r % nt], ki = tap / g.kw, kj = tap % g.kw;
    float* out = col + r * cols;
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
        if (g.stride == 1) {
          // Only the borders fall outside the image; the middle is a copy.
          const int lo = std::max(0, g.pad - kj), hi = std::min(wo, g.w + g.pad - kj);
          for (int ow = 0; ow < lo; ++ow) row[ow] = 0.f;
          if (hi > lo) std::memcpy(row + lo, in + lo - g.pad + kj, sizeof(float) * (hi - lo));
          for (int ow = std::max(hi, lo); ow < wo; ++ow) row[ow] = 0.f;
        } else {
          for (int ow = 0; ow < wo; ++ow) {
            const int iw = ow * g.stride - g.pad + kj;
            row[ow] = (iw >= 0 && iw < g.w) ? in[iw] : 0.f;
          }
        }
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
          const int ki = g.taps[t] / g.kw, kj = g.taps[t] % g.kw;
          const float* src = col + long(c * nt + t) * cols + long(i) * ho * wo;
          for (int oh = 0; oh < ho; ++oh) {
            const int ih = oh * g.stride - g.pad + ki;
            if (ih < 0 || ih >= g.h) continue;
            float* out = plane + ih * g.w;
            const float* row = src + oh * wo;
            if (g.stride == 1) {
              const int lo = std::max(0, g.pad - kj), hi = std::min(wo, g.w + g.pad - kj);
              const int shift = kj - g.pad;
              for (int ow = lo; ow < hi; ++ow) out[ow + shift] += row[ow];
              continue;
            }
            for (int ow = 0; ow < wo; ++ow) {
              const int iw = ow * g.stride - g.pad + kj;
              if (iw >= 0 && iw < g.w) out[iw] += row[ow];
            }
          }
        }
      }
    }
  }
}

}  // namespace mnistlab::cpu
