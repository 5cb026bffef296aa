#include "kernels/cpu/layout.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/lane_sums.h"
#include "kernels/cpu/parallel.h"

namespace mnistlab::cpu {

void add_channel_bias(int threads, const float* bias, int n, int c, int hw, float* y) {
  parallel_for_2d(threads, n, c, [&](int i, int ch) {
      float* out = y + (long(i) * c + ch) * hw;
      for (int p = 0; p < hw; ++p) out[p] += bias[ch];
    });
}

void channel_sums(int threads, const float* x, int n, int c, int hw, float* out) {
  parallel_for(threads, c, [&](int ch) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += lane_sum(x + (long(i) * c + ch) * hw, hw);
    out[ch] = float(s);
  });
}

void sum_parts(const float* parts, int count, size_t stride, size_t len, float* out) {
  std::copy(parts, parts + len, out);
  for (int t = 1; t < count; ++t) {
    const float* part = parts + size_t(t) * stride;
    for (size_t j = 0; j < len; ++j) out[j] += part[j];
  }
}

}  // namespace mnistlab::cpu
