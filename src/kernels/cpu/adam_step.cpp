// torch.optim.Adam / AdamW (amsgrad off):
//   Adam:  g += wd*p          AdamW: p *= 1 - lr*wd
//   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
//   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
#include <algorithm>
#include <cmath>

#include "kernels/cpu/optimizer_steps.h"
#include "kernels/cpu/parallel.h"

namespace mnistlab::cpu {

bool adam_step(int threads, const AdamStep& s, float* p, const float* g, float* m, float* v, size_t count) {
  const float lr = s.lr, wd = s.weight_decay, b1 = s.beta1, b2 = s.beta2, eps = s.eps;
  const double bc1 = 1.0 - std::pow(double(b1), double(s.step));
  const double bc2 = 1.0 - std::pow(double(b2), double(s.step));
  const float step_size = float(lr / bc1), inv_sqrt_bc2 = float(1.0 / std::sqrt(bc2));
  const float decay = s.decoupled ? 1.f - lr * wd : 1.f, l2 = s.decoupled ? 0.f : wd;
  const long n = long(count);
  // Each value also gives its gradient's exponent bits: the largest says whether one was not finite.
  const uint32_t top = parallel_max(threads, n, [&](long i) {
    const float grad = g[i] + l2 * p[i];
    m[i] = b1 * m[i] + (1.f - b1) * grad;
    v[i] = b2 * v[i] + (1.f - b2) * grad * grad;
    p[i] = p[i] * decay - step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
    return exponent_bits(g[i]);
  });
  return top != kNonFiniteExponent;
}

}  // namespace mnistlab::cpu
