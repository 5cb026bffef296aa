#include "kernels/cpu/pooling.h"

#include <cstring>
#include <limits>

namespace mnistlab::cpu {

// The usual 2x2 window with stride 2 and no padding: never out of bounds,
// so no checks; candidates in the generic loop's order (row by row).
static void maxpool_2x2(int threads, const PoolGeometry& g, const float* x, int n, float* y, int32_t* argmax) {
  const int ho = g.ho(), wo = g.wo(), w = g.w;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (long plane = 0; plane < long(n) * g.c; ++plane) {
    const float* in = x + plane * g.h * w;
    float* out = y + plane * ho * wo;
    int32_t* arg = argmax ? argmax + plane * ho * wo : nullptr;
    for (int oh = 0; oh < ho; ++oh)
      for (int ow = 0; ow < wo; ++ow) {
        const int32_t first = 2 * oh * w + 2 * ow;
        const int32_t candidates[3] = {first + 1, first + w, first + w + 1};
        float best = in[first];
        int32_t where = first;
        for (int32_t at : candidates) {
          const float v = in[at];
          if (v > best || v != v) {  // NaN propagates, as in PyTorch
            best = v;
            where = at;
          }
        }
        out[oh * wo + ow] = best;
        if (argmax) arg[oh * wo + ow] = where;
      }
  }
}

void maxpool_forward(int threads, const PoolGeometry& g, const float* x, int n, float* y, int32_t* argmax) {
  if (g.k == 2 && g.stride == 2 && g.pad == 0) return maxpool_2x2(threads, g, x, n, y, argmax);
  const int ho = g.ho(), wo = g.wo();
#pragma omp parallel for num_threads(threads) collapse(2) schedule(static)
  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < g.c; ++c) {
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
    }
  }
}

void maxpool_backward(int threads, const PoolGeometry& g, const float* dy, const int32_t* argmax, int n, float* dx) {
  const int hw_out = g.ho() * g.wo();
#pragma omp parallel for num_threads(threads) collapse(2) schedule(static)
  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < g.c; ++c) {
      float* plane = dx + (long(i) * g.c + c) * g.h * g.w;
      std::memset(plane, 0, sizeof(float) * g.h * g.w);
      const long out = (long(i) * g.c + c) * hw_out;
      for (int j = 0; j < hw_out; ++j) plane[argmax[out + j]] += dy[out + j];
    }
  }
}

}  // namespace mnistlab::cpu
