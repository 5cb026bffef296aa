#pragma once
// The pieces of log-softmax that the loss and the evaluation share.
#include <cmath>

namespace mnistlab {

// The first of equal maxima, as torch.argmax.
template <class T>
int argmax(const T* z, int k) {
  int best = 0;
  for (int j = 1; j < k; ++j)
    if (z[j] > z[best]) best = j;
  return best;
}

// log(sum_j exp z_j), shifted by the row's maximum so exp never overflows.
inline double log_sum_exp(const float* z, int k, float max) {
  double sum = 0.0;
  for (int j = 0; j < k; ++j) sum += std::exp(double(z[j]) - max);
  return std::log(sum) + max;
}

}  // namespace mnistlab
