// torch.optim.Adam / AdamW (amsgrad off):
//   Adam:  g += wd*p          AdamW: p *= 1 - lr*wd
//   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
//   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
#include <algorithm>
#include <cmath>

#include "kernels/cpu/optimizer_steps.h"
#include "kernels/cpu/parallel.h"

namespace mnistlab::cpu {

namespace {

struct AdamConstants {
  float l2, decay, b1, b2, step_size, inv_sqrt_bc2, eps;
};

// Elements [begin, end); the largest gradient exponent (exponent_bits).
uint32_t adam_range(const AdamConstants& c, long begin, long end, float* __restrict p, const float* __restrict g,
                    float* __restrict m, float* __restrict v) {
  const float l2 = c.l2, decay = c.decay, b1 = c.b1, b2 = c.b2, step_size = c.step_size;
  const float inv_sqrt_bc2 = c.inv_sqrt_bc2, eps = c.eps;
  uint32_t top = 0;
#pragma omp simd reduction(max : top)
  for (long i = begin; i < end; ++i) {
    const float grad = g[i] + l2 * p[i];
    const float mi = b1 * m[i] + (1.f - b1) * grad;
    const float vi = b2 * v[i] + (1.f - b2) * grad * grad;
    m[i] = mi, v[i] = vi;
    p[i] = p[i] * decay - step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
    const uint32_t e = exponent_bits(g[i]);
    top = e > top ? e : top;
  }
  return top;
}

}  // namespace

bool adam_step(int threads, const AdamStep& s, float* p, const float* g, float* m, float* v, size_t count) {
  const float lr = s.lr, wd = s.weight_decay;
  const double bc1 = 1.0 - std::pow(double(s.beta1), double(s.step));
  const double bc2 = 1.0 - std::pow(double(s.beta2), double(s.step));
  const AdamConstants c{s.decoupled ? 0.f : wd, s.decoupled ? 1.f - lr * wd : 1.f, s.beta1, s.beta2,
                        float(lr / bc1), float(1.0 / std::sqrt(bc2)), s.eps};
  // Each value also gives its gradient's exponent bits: the largest says whether one was not finite.
  const uint32_t top = parallel_ranges_max(threads, long(count), [&](long begin, long end) {
    return adam_range(c, begin, end, p, g, m, v);
  });
  return top != kNonFiniteExponent;
}

}  // namespace mnistlab::cpu
