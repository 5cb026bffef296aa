// torch.optim.SGD: g += wd*p; buf = momentum*buf + (1-dampening)*g (buf = g
// on the first step); g = nesterov ? g + momentum*buf : buf; p -= lr*g.
#include <algorithm>

#include "kernels/cpu/optimizer_steps.h"
#include "kernels/cpu/parallel.h"

namespace mnistlab::cpu {

namespace {

// Elements [begin, end) for one case of the options (each loop free of
// branches, so it vectorizes); the largest gradient exponent (exponent_bits).
template <bool Momentum, bool First, bool Nesterov>
uint32_t sgd_range(const SgdStep& s, long begin, long end, float* __restrict p, const float* __restrict g,
                   float* __restrict buf) {
  const float lr = s.lr, wd = s.weight_decay, mu = s.momentum, damp = 1.f - s.dampening;
  uint32_t top = 0;
#pragma omp simd reduction(max : top)
  for (long i = begin; i < end; ++i) {
    float d = g[i] + wd * p[i];
    if constexpr (Momentum) {
      const float b = First ? d : mu * buf[i] + damp * d;
      buf[i] = b;
      d = Nesterov ? d + mu * b : b;
    }
    p[i] -= lr * d;
    const uint32_t e = exponent_bits(g[i]);
    top = e > top ? e : top;
  }
  return top;
}

template <bool Momentum, bool First, bool Nesterov>
uint32_t sgd_all(int threads, const SgdStep& s, float* p, const float* g, float* buf, size_t count) {
  return parallel_ranges_max(threads, long(count), [&](long begin, long end) {
    return sgd_range<Momentum, First, Nesterov>(s, begin, end, p, g, buf);
  });
}

}  // namespace

bool sgd_step(int threads, const SgdStep& s, float* p, const float* g, float* buf, size_t count) {
  // Each value also gives its gradient's exponent bits: the largest says whether one was not finite.
  uint32_t top;
  if (s.momentum == 0.f)
    top = sgd_all<false, false, false>(threads, s, p, g, buf, count);
  else if (s.first)
    top = s.nesterov ? sgd_all<true, true, true>(threads, s, p, g, buf, count)
                     : sgd_all<true, true, false>(threads, s, p, g, buf, count);
  else
    top = s.nesterov ? sgd_all<true, false, true>(threads, s, p, g, buf, count)
                     : sgd_all<true, false, false>(threads, s, p, g, buf, count);
  return top != kNonFiniteExponent;
}

}  // namespace mnistlab::cpu
