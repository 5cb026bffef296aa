#include "loss/log_softmax.h"
#include "mnistlab/error.h"
#include "mnistlab/loss.h"

namespace mnistlab {

float checked_label_smoothing(float eps) {
  // 1 would leave no trace of the label in the target.
  if (!(eps >= 0 && eps < 1)) throw Error("label smoothing " + std::to_string(eps) + " is not in [0, 1)");
  return eps;
}

double cross_entropy(const Tensor& logits, const int32_t* labels, float* grad, int* correct, float label_smoothing) {
  const int n = logits.n, k = int(logits.shape.numel());
  // The target is (1 - eps) on the label and eps / K on every class
  // (nn.CrossEntropyLoss's label_smoothing); eps = 0 gives plain
  // cross-entropy bit for bit.
  const double eps = checked_label_smoothing(label_smoothing), on_label = 1.0 - eps, on_each = eps / k;
  double total = 0.0;
  int right = 0;
#pragma omp parallel for reduction(+ : total, right) schedule(static)
  for (int i = 0; i < n; ++i) {
    const float* z = logits.data + long(i) * k;
    const int best = argmax(z, k);
    right += best == labels[i];
    const double log_sum = log_sum_exp(z, k, z[best]);
    total += on_label * (log_sum - z[labels[i]]);
    if (eps > 0) {
      double z_sum = 0.0;
      for (int j = 0; j < k; ++j) z_sum += z[j];
      total += eps * (log_sum - z_sum / k);  // eps * mean_k(-log p_k)
    }
    if (grad) {
      for (int j = 0; j < k; ++j) {
        const double p = std::exp(double(z[j]) - log_sum);
        grad[long(i) * k + j] = float((p - on_each - (j == labels[i] ? on_label : 0.0)) / n);
      }
    }
  }
  if (correct) *correct = right;
  return total / n;
}

}  // namespace mnistlab
