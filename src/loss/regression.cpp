// nn.L1Loss and nn.MSELoss with reduction='mean', computed by the backend
// (Backend::regression_loss).
#include "kernels/backend.h"
#include "mnistlab/loss.h"

namespace mnistlab {
namespace {

size_t gradient_count(const Tensor& output, int batch) {
  return batch > 0 ? size_t(batch) * output.shape.numel() : output.numel();
}

}  // namespace

double l1_loss(const Backend& backend, const Tensor& output, const float* target, float* grad, int batch) {
  return backend.regression_loss(RegressionLoss::L1, output.data, target, output.numel(), grad,
                                 gradient_count(output, batch));
}

double mse_loss(const Backend& backend, const Tensor& output, const float* target, float* grad, int batch) {
  return backend.regression_loss(RegressionLoss::Mse, output.data, target, output.numel(), grad,
                                 gradient_count(output, batch));
}

}  // namespace mnistlab
