// nn.CrossEntropyLoss(label_smoothing=eps), mean over the batch.
#include "kernels/cpu/losses.h"
#include "loss/log_softmax.h"

namespace mnistlab::cpu {

double cross_entropy(int threads, const float* logits, int n, int k, const int32_t* labels, float label_smoothing,
                     float* grad, int* correct, int grad_rows) {
  // The target is (1 - eps) on the label and eps / K on every class
  // (nn.CrossEntropyLoss's label_smoothing); eps = 0 gives plain
  // cross-entropy bit for bit.
  const double eps = label_smoothing, on_label = 1.0 - eps, on_each = eps / k;
  double total = 0.0;
  int right = 0;
  auto row = [&](int i, double& total, int& right) {
    const float* z = logits + long(i) * k;
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
        grad[long(i) * k + j] = float((p - on_each - (j == labels[i] ? on_label : 0.0)) / grad_rows);
      }
    }
  };
  // The sum over rows is split among the threads (OpenMP's reduction), so
  // the loss's last bits depend on the thread count; grad and correct do not.
  if (threads <= 1) {
    for (int i = 0; i < n; ++i) row(i, total, right);
  } else {
#pragma omp parallel for num_threads(threads) reduction(+ : total, right) schedule(static)
    for (int i = 0; i < n; ++i) row(i, total, right);
  }
  if (correct) *correct = right;
  return total / n;
}

}  // namespace mnistlab::cpu
