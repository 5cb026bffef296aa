// torch.optim.SGD: g += wd*p; buf = momentum*buf + (1-dampening)*g (buf = g
// on the first step); g = nesterov ? g + momentum*buf : buf; p -= lr*g.
#include <algorithm>

#include "optim/optimizers.h"

namespace mnistlab {

SGD::SGD(const OptimizerOptions& o, size_t n) : o_(o), n_(n) { lr_ = o.lr; }

bool SGD::step(float* p, const float* g) {
  const float lr = lr_, wd = o_.weight_decay, mu = o_.momentum, damp = 1.f - o_.dampening;
  const bool first = mu != 0.f && buf_.empty(), nesterov = o_.nesterov;
  if (first) buf_.assign(n_, 0.f);
  ++steps_;
  float* buf = buf_.data();
  const long n = long(n_);
  uint32_t top = 0;
#pragma omp parallel for schedule(static) reduction(max : top)
  for (long i = 0; i < n; ++i) {
    top = std::max(top, exponent_bits(g[i]));
    float d = g[i] + wd * p[i];
    if (mu != 0.f) {
      buf[i] = first ? d : mu * buf[i] + damp * d;
      d = nesterov ? d + mu * buf[i] : buf[i];
    }
    p[i] -= lr * d;
  }
  return top != kNonFiniteExponent;
}

}  // namespace mnistlab
