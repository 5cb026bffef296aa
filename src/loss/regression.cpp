// nn.L1Loss and nn.MSELoss with reduction='mean' (over every element).
// L1's gradient at a tie is 0, as torch.sign gives.
#include "mnistlab/loss.h"

namespace mnistlab {

double l1_loss(const Tensor& output, const float* target, float* grad) {
  const size_t count = output.numel();
  const float scale = 1.f / float(count);
  double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
  for (size_t i = 0; i < count; ++i) {
    const float d = output.data[i] - target[i];
    sum += d < 0 ? -d : d;
    if (grad) grad[i] = d > 0 ? scale : (d < 0 ? -scale : 0.f);
  }
  return sum / double(count);
}

double mse_loss(const Tensor& output, const float* target, float* grad) {
  const size_t count = output.numel();
  const float scale = 2.f / float(count);
  double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
  for (size_t i = 0; i < count; ++i) {
    const float d = output.data[i] - target[i];
    sum += double(d) * d;
    if (grad) grad[i] = scale * d;
  }
  return sum / double(count);
}

}  // namespace mnistlab
