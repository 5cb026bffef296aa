// nn.CrossEntropyLoss, computed by the backend (Backend::cross_entropy).
#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "mnistlab/loss.h"

namespace mnistlab {

float checked_label_smoothing(float eps) {
  // 1 would leave no trace of the label in the target.
  if (!(eps >= 0 && eps < 1)) throw Error("label smoothing " + std::to_string(eps) + " is not in [0, 1)");
  return eps;
}

double cross_entropy(const Backend& backend, const Tensor& logits, const int32_t* labels, float* grad, int* correct,
                     float label_smoothing, int batch) {
  return backend.cross_entropy(logits.data, logits.n, int(logits.shape.numel()), labels,
                               checked_label_smoothing(label_smoothing), grad, correct, batch > 0 ? batch : logits.n);
}

}  // namespace mnistlab
