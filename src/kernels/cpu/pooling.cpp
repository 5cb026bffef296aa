#include "kernels/cpu/pooling.h"

#include <cstring>
#include <limits>

namespace mnistlab::cpu {

void maxpool_forward(const PoolGeometry& g, const float* x, int n, float* y, int32_t* argmax) {
  const int ho = g.ho(), wo = g.wo();
#pragma omp parallel for collapse(2) schedule(static)
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
          argmax[out + oh * wo + ow] = where;
        }
      }
    }
  }
}

void maxpool_backward(const PoolGeometry& g, const float* dy, const int32_t* argmax, int n, float* dx) {
  const int hw_out = g.ho() * g.wo();
#pragma omp parallel for collapse(2) schedule(static)
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
