#include "kernels/cpu/avgpool.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/lane_sums.h"
#include "kernels/cpu/parallel.h"

namespace mnistlab::cpu {
namespace {

// The outputs ow whose tap kj reads a column inside the input, iw = ow *
// stride - pad + kj in [0, w): [first, last).
void tap_range(const PoolShape& g, int kj, int wo, int& first, int& last) {
  const int lo = g.pad - kj;  // ow * stride >= lo
  first = lo <= 0 ? 0 : (lo + g.stride - 1) / g.stride;
  const int hi = g.w - 1 + g.pad - kj;  // ow * stride <= hi
  last = hi < 0 ? 0 : std::min(wo, hi / g.stride + 1);
  if (first > last) first = last;
}

}  // namespace

// PyTorch's order of additions (the window row by row, left to right, from
// 0) for each output; the loop runs along an output row for each tap, so the
// compiler vectorizes it (contiguous loads at stride 1). ceil_mode=False
// keeps every window inside the padded input: the divisor is always k * k.
void avgpool_forward(int threads, const PoolShape& g, const float* x, int n, float* y) {
  const int ho = g.ho(), wo = g.wo(), s = g.stride;
  const float divisor = float(g.k * g.k);
  parallel_for(threads, long(n) * g.c, [&](long plane) {
    const float* in = x + plane * g.h * g.w;
    float* out = y + plane * ho * wo;
    if (g.k == 2 && s == 2 && g.pad == 0) {  // the usual 2x2: no bounds
      for (int oh = 0; oh < ho; ++oh) {
        const float* __restrict r0 = in + 2 * oh * g.w;
        const float* __restrict r1 = r0 + g.w;
        float* __restrict o = out + oh * wo;
        for (int ow = 0; ow < wo; ++ow) o[ow] = (((r0[2 * ow] + r0[2 * ow + 1]) + r1[2 * ow]) + r1[2 * ow + 1]) / 4.f;
      }
      return;
    }
    for (int oh = 0; oh < ho; ++oh) {
      float* __restrict o = out + oh * wo;
      std::fill(o, o + wo, 0.f);
      for (int ki = 0; ki < g.k; ++ki) {
        const int ih = oh * s - g.pad + ki;
        if (ih < 0 || ih >= g.h) continue;
        const float* __restrict row = in + ih * g.w;
        for (int kj = 0; kj < g.k; ++kj) {
          int first, last;
          tap_range(g, kj, wo, first, last);
          const int at = kj - g.pad;  // output ow reads column ow * s + at
          if (s == 1)
            for (int ow = first; ow < last; ++ow) o[ow] += row[ow + at];
          else
            for (int ow = first; ow < last; ++ow) o[ow] += row[ow * s + at];
        }
      }
      for (int ow = 0; ow < wo; ++ow) o[ow] /= divisor;
    }
  });
}

// Each output's share dy / (k * k), as PyTorch computes it, added to its
// window's inputs; planes are independent, so threads never meet.
void avgpool_backward(int threads, const PoolShape& g, const float* dy, int n, float* dx) {
  const int ho = g.ho(), wo = g.wo(), s = g.stride;
  const float divisor = float(g.k * g.k);
  parallel_for(threads, long(n) * g.c, [&](long plane) {
    float* in = dx + plane * g.h * g.w;
    const float* out = dy + plane * ho * wo;
    std::memset(in, 0, sizeof(float) * g.h * g.w);
    for (int oh = 0; oh < ho; ++oh) {
      const float* __restrict d = out + oh * wo;
      for (int ki = 0; ki < g.k; ++ki) {
        const int ih = oh * s - g.pad + ki;
        if (ih < 0 || ih >= g.h) continue;
        float* __restrict row = in + ih * g.w;
        for (int kj = 0; kj < g.k; ++kj) {
          int first, last;
          tap_range(g, kj, wo, first, last);
          const int at = kj - g.pad;
          if (s == 1)
            for (int ow = first; ow < last; ++ow) row[ow + at] += d[ow] / divisor;
          else
            for (int ow = first; ow < last; ++ow) row[ow * s + at] += d[ow] / divisor;
        }
      }
    }
  });
}

void global_avgpool_forward(int threads, const float* x, size_t planes, int hw, float* y) {
  parallel_for(threads, long(planes), [&](long p) { y[p] = lane_sum(x + p * hw, hw) / float(hw); });
}

void global_avgpool_backward(int threads, const float* dy, size_t planes, int hw, float* dx) {
  parallel_for(threads, long(planes), [&](long p) {
    const float v = dy[p] / float(hw);
    float* __restrict d = dx + p * hw;
    for (int j = 0; j < hw; ++j) d[j] = v;
  });
}

}  // namespace mnistlab::cpu
