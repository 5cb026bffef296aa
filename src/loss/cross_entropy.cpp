#include <cmath>

#include "mnistlab/loss.h"

namespace mnistlab {

double cross_entropy(const Tensor& logits, const int32_t* labels, float* grad, int* correct) {
  const int n = logits.n, k = int(logits.shape.numel());
  double total = 0.0;
  int right = 0;
#pragma omp parallel for reduction(+ : total, right) schedule(static)
  for (int i = 0; i < n; ++i) {
    const float* z = logits.data + long(i) * k;
    int best = 0;
    for (int j = 1; j < k; ++j)
      if (z[j] > z[best]) best = j;
    right += best == labels[i];
    // log-softmax shifted by the maximum, so exp never overflows.
    double sum = 0.0;
    for (int j = 0; j < k; ++j) sum += std::exp(double(z[j]) - z[best]);
    const double log_sum = std::log(sum) + z[best];
    total += log_sum - z[labels[i]];
    if (grad) {
      for (int j = 0; j < k; ++j) {
        const double p = std::exp(double(z[j]) - log_sum);
        grad[long(i) * k + j] = float((p - (j == labels[i] ? 1.0 : 0.0)) / n);
      }
    }
  }
  if (correct) *correct = right;
  return total / n;
}

}  // namespace mnistlab
