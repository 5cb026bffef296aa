#include "kernels/cpu/pooling.h"

#include <cstring>
#include <limits>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/pooling_kernels.h"

namespace mnistlab::cpu {

// The usual 2x2 window with stride 2 and no padding: never out of bounds,
// so no checks; candidates in the generic loop's order (row by row), each
// replacing the maximum when greater or NaN, as PyTorch's. Written with
// selects instead of branches so the compiler vectorizes along the row.
static void maxpool_2x2(int threads, Isa isa, const PoolGeometry& g, const float* x, int n, float* y,
                        int32_t* argmax) {
  const int ho = g.ho(), wo = g.wo(), w = g.w;
  parallel_for(threads, long(n) * g.c, [&](long plane) {
    const float* in = x + plane * g.h * w;
    float* out = y + plane * ho * wo;
    int32_t* arg = argmax ? argmax + plane * ho * wo : nullptr;
    if (isa == Isa::Avx512) {
      maxpool_2x2_plane_avx512(in, g.h, w, out, arg);
      return;
    }
    for (int oh = 0; oh < ho; ++oh) {
      const float* __restrict r0 = in + 2 * oh * w;
      const float* __restrict r1 = r0 + w;
      float* __restrict o = out + oh * wo;
      if (!arg) {
        for (int ow = 0; ow < wo; ++ow) {
          float best = r0[2 * ow];
          for (float v : {r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]}) best = v > best || v != v ? v : best;
          o[ow] = best;
        }
        continue;
      }
      int32_t* __restrict a = arg + oh * wo;
      const int32_t row = 2 * oh * w;
      for (int ow = 0; ow < wo; ++ow) {
        float best = r0[2 * ow];
        int32_t where = 0;
        const float v1 = r0[2 * ow + 1], v2 = r1[2 * ow], v3 = r1[2 * ow + 1];
        const bool t1 = v1 > best || v1 != v1;
        best = t1 ? v1 : best;
        where = t1 ? 1 : where;
        const bool t2 = v2 > best || v2 != v2;
        best = t2 ? v2 : best;
        where = t2 ? w : where;
        const bool t3 = v3 > best || v3 != v3;
        best = t3 ? v3 : best;
        where = t3 ? w + 1 : where;
        o[ow] = best;
        a[ow] = row + 2 * ow + where;
      }
    }
  });
}

void maxpool_forward(int threads, Isa isa, const PoolGeometry& g, const float* x, int n, float* y, int32_t* argmax) {
  if (g.k == 2 && g.stride == 2 && g.pad == 0) return maxpool_2x2(threads, isa, g, x, n, y, argmax);
  const int ho = g.ho(), wo = g.wo();
  parallel_for_2d(threads, n, int(g.c), [&](int i, int c) {
      const float* in = x + (long(i) * g.c + c) * g.h * g.w;
      const long out = (long(i) * g.c + c) * ho * wo;
      for (int oh = 0; oh < ho; ++oh) {
        for (int ow = 0; ow < wo; ++ow) {
          float best = -std::numeric_limits<float>::infinity();
          int32_t where = -1;
          for (int ki = 0; ki < g.k; ++ki) {
            const int ih = oh * g.stride - g.pad + ki;
            if (ih < 0 || ih >= g.h) continue;
            for (int kj = 0; kj < g.k; ++kj) {
              const int iw = ow * g.stride - g.pad + kj;
              if (iw < 0 || iw >= g.w) continue;
              const float v = in[ih * g.w + iw];
              // NaN propagates, as in PyTorch.
              if (v > best || v != v || where < 0) {
                best = v;
                where = ih * g.w + iw;
              }
            }
          }
          y[out + oh * wo + ow] = best;
          if (argmax) argmax[out + oh * wo + ow] = where;
        }
      }
    });
}

void maxpool_backward(int threads, const PoolGeometry& g, const float* dy, const int32_t* argmax, int n, float* dx) {
  const int hw_out = g.ho() * g.wo();
  parallel_for_2d(threads, n, int(g.c), [&](int i, int c) {
      float* plane = dx + (long(i) * g.c + c) * g.h * g.w;
      std::memset(plane, 0, sizeof(float) * g.h * g.w);
      const long out = (long(i) * g.c + c) * hw_out;
      for (int j = 0; j < hw_out; ++j) plane[argmax[out + j]] += dy[out + j];
    });
}

}  // namespace mnistlab::cpu
