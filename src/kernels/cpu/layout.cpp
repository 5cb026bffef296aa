#include "kernels/cpu/layout.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/lane_sums.h"

namespace mnistlab::cpu {

void channels_to_nchw(int threads, const float* src, int n, int c, int hw, const float* bias, float* y) {
#pragma omp parallel for num_threads(threads) collapse(2) schedule(static)
  for (int i = 0; i < n; ++i) {
    for (int ch = 0; ch < c; ++ch) {
      const float* in = src + (long(ch) * n + i) * hw;
      float* out = y + (long(i) * c + ch) * hw;
      const float b = bias ? bias[ch] : 0.f;
      for (int p = 0; p < hw; ++p) out[p] = in[p] + b;
    }
  }
}

void nchw_to_channels(int threads, const float* x, int n, int c, int hw, float* dst) {
#pragma omp parallel for num_threads(threads) collapse(2) schedule(static)
  for (int i = 0; i < n; ++i) {
    for (int ch = 0; ch < c; ++ch) {
      std::memcpy(dst + (long(ch) * n + i) * hw, x + (long(i) * c + ch) * hw, sizeof(float) * hw);
    }
  }
}

void add_channel_bias(int threads, const float* bias, int n, int c, int hw, float* y) {
#pragma omp parallel for num_threads(threads) collapse(2) schedule(static)
  for (int i = 0; i < n; ++i)
    for (int ch = 0; ch < c; ++ch) {
      float* out = y + (long(i) * c + ch) * hw;
      for (int p = 0; p < hw; ++p) out[p] += bias[ch];
    }
}

void channel_sums(int threads, const float* x, int n, int c, int hw, float* out) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int ch = 0; ch < c; ++ch) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += lane_sum(x + (long(i) * c + ch) * hw, hw);
    out[ch] = float(s);
  }
}

void sum_parts(const float* parts, int count, size_t stride, size_t len, float* out) {
  std::copy(parts, parts + len, out);
  for (int t = 1; t < count; ++t) {
    const float* part = parts + size_t(t) * stride;
    for (size_t j = 0; j < len; ++j) out[j] += part[j];
  }
}

}  // namespace mnistlab::cpu
