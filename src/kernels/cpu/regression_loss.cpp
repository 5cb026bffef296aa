// nn.L1Loss and nn.MSELoss with reduction='mean' (over every element).
// L1's gradient at a tie is 0, as torch.sign gives.
#include "kernels/cpu/losses.h"

namespace mnistlab::cpu {
namespace {

// Mean of term(d) over d = output - target; grad gets term's derivative /
// count. The sum is split among the threads (OpenMP's reduction), so the
// loss's last bits depend on the thread count; grad does not.
template <class Term>
double mean_loss(int threads, const float* output, const float* target, size_t count, float* grad,
                 size_t grad_count, Term term) {
  const float scale = 1.f / float(grad_count);
  double sum = 0;
  auto value = [&](size_t i, double& sum) {
    float derivative = 0;
    sum += term(output[i] - target[i], derivative);
    if (grad) grad[i] = scale * derivative;
  };
  if (threads <= 1) {
    for (size_t i = 0; i < count; ++i) value(i, sum);
  } else {
#pragma omp parallel for num_threads(threads) reduction(+ : sum) schedule(static)
    for (size_t i = 0; i < count; ++i) value(i, sum);
  }
  return sum / double(count);
}

}  // namespace

double regression_loss(int threads, RegressionLoss kind, const float* output, const float* target, size_t count,
                       float* grad, size_t grad_count) {
  if (kind == RegressionLoss::L1)
    return mean_loss(threads, output, target, count, grad, grad_count, [](float d, float& derivative) {
      derivative = d > 0 ? 1.f : (d < 0 ? -1.f : 0.f);
      return double(d < 0 ? -d : d);
    });
  return mean_loss(threads, output, target, count, grad, grad_count, [](float d, float& derivative) {
    derivative = 2.f * d;
    return double(d) * d;
  });
}

}  // namespace mnistlab::cpu
