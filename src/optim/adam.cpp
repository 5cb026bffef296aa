// torch.optim.Adam / AdamW (amsgrad off):
//   Adam:  g += wd*p          AdamW: p *= 1 - lr*wd
//   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
//   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
#include <algorithm>
#include <cmath>

#include "optim/optimizers.h"

namespace mnistlab {

Adam::Adam(const OptimizerOptions& o, size_t n, bool decoupled)
    : o_(o), n_(n), decoupled_(decoupled), m_(n, 0.f), v_(n, 0.f) {
  lr_ = o.lr;
}

bool Adam::step(float* p, const float* g) {
  ++steps_;
  const float lr = lr_, wd = o_.weight_decay, b1 = o_.beta1, b2 = o_.beta2, eps = o_.eps;
  const double bc1 = 1.0 - std::pow(double(b1), double(steps_));
  const double bc2 = 1.0 - std::pow(double(b2), double(steps_));
  const float step_size = float(lr / bc1), inv_sqrt_bc2 = float(1.0 / std::sqrt(bc2));
  const float decay = decoupled_ ? 1.f - lr * wd : 1.f, l2 = decoupled_ ? 0.f : wd;
  float* m = m_.data();
  float* v = v_.data();
  const long n = long(n_);
  uint32_t top = 0;
#pragma omp parallel for schedule(static) reduction(max : top)
  for (long i = 0; i < n; ++i) {
    top = std::max(top, exponent_bits(g[i]));
    const float grad = g[i] + l2 * p[i];
    m[i] = b1 * m[i] + (1.f - b1) * grad;
    v[i] = b2 * v[i] + (1.f - b2) * grad * grad;
    p[i] = p[i] * decay - step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
  }
  return top != kNonFiniteExponent;
}

}  // namespace mnistlab
