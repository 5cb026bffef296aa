// nn.L1Loss and nn.MSELoss with reduction='mean', computed by the backend
// (Backend::regression_loss).
#include "kernels/backend.h"
#include "mnistlab/loss.h"

namespace mnistlab {

double l1_loss(const Backend& backend, const Tensor& output, const float* target, float* grad) {
  return backend.regression_loss(RegressionLoss::L1, output.data, target, output.numel(), grad);
}

double mse_loss(const Backend& backend, const Tensor& output, const float* target, float* grad) {
  return backend.regression_loss(RegressionLoss::Mse, output.data, target, output.numel(), grad);
}

}  // namespace mnistlab
