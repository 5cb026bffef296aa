#pragma once
// Kernels of the losses (Backend::cross_entropy, regression_loss).
#include <cstddef>
#include <cstdint>

#include "kernels/backend.h"

namespace mnistlab::cpu {

double cross_entropy(int threads, const float* logits, int n, int k, const int32_t* labels, float label_smoothing,
                     float* grad, int* correct, int grad_rows);
double regression_loss(int threads, RegressionLoss kind, const float* output, const float* target, size_t count,
                       float* grad, size_t grad_count);

}  // namespace mnistlab::cpu
