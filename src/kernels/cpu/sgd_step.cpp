// torch.optim.SGD: g += wd*p; buf = momentum*buf + (1-dampening)*g (buf = g
// on the first step); g = nesterov ? g + momentum*buf : buf; p -= lr*g.
#include <algorithm>

#include "kernels/cpu/optimizer_steps.h"
#include "kernels/cpu/parallel.h"

namespace mnistlab::cpu {

bool sgd_step(int threads, const SgdStep& s, float* p, const float* g, float* buf, size_t count) {
  const float lr = s.lr, wd = s.weight_decay, mu = s.momentum, damp = 1.f - s.dampening;
  const bool first = s.first, nesterov = s.nesterov;
  const long n = long(count);
  // Each value also gives its gradient's exponent bits: the largest says whether one was not finite.
  const uint32_t top = parallel_max(threads, n, [&](long i) {
    float d = g[i] + wd * p[i];
    if (mu != 0.f) {
      buf[i] = first ? d : mu * buf[i] + damp * d;
      d = nesterov ? d + mu * buf[i] : buf[i];
    }
    p[i] -= lr * d;
    return exponent_bits(g[i]);
  });
  return top != kNonFiniteExponent;
}

}  // namespace mnistlab::cpu
