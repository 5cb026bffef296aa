// nn.L1Loss and nn.MSELoss with reduction='mean' (over every element).
// L1's gradient at a tie is 0, as torch.sign gives.
#include "mnistlab/loss.h"

namespace mnistlab {
namespace {

// Mean of term(d) over d = output - target; grad gets term's derivative / count.
template <class Term>
double mean_loss(const Tensor& output, const float* target, float* grad, Term term) {
  const size_t count = output.numel();
  const float scale = 1.f / float(count);
  double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
  for (size_t i = 0; i < count; ++i) {
    float derivative = 0;
    sum += term(output.data[i] - target[i], derivative);
    if (grad) grad[i] = scale * derivative;
  }
  return sum / double(count);
}

}  // namespace

double l1_loss(const Tensor& output, const float* target, float* grad) {
  return mean_loss(output, target, grad, [](float d, float& derivative) {
    derivative = d > 0 ? 1.f : (d < 0 ? -1.f : 0.f);
    return double(d < 0 ? -d : d);
  });
}

double mse_loss(const Tensor& output, const float* target, float* grad) {
  return mean_loss(output, target, grad, [](float d, float& derivative) {
    derivative = 2.f * d;
    return double(d) * d;
  });
}

}  // namespace mnistlab
