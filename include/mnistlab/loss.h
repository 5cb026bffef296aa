#pragma once
#include <cstdint>

#include "mnistlab/tensor.h"

namespace mnistlab {

class Backend;  // src/kernels/backend.h; a library user passes Model::backend() along

// The losses compute on `backend` (the model's, with its threads).

// nn.CrossEntropyLoss(label_smoothing=eps) (mean over the batch) on logits
// [N, K] and class indices: (1 - eps) * -log p_label + eps * mean_k(-log p_k);
// eps in [0, 1), else Error. Writes dL/dlogits into grad when it is not null
// and counts the rows whose argmax is the label into *correct when that is
// not null.
double cross_entropy(const Backend& backend, const Tensor& logits, const int32_t* labels, float* grad, int* correct,
                     float label_smoothing = 0);
// eps itself, or Error when it is not in [0, 1).
float checked_label_smoothing(float eps);

// nn.L1Loss / nn.MSELoss (mean over every element) against a target of the
// output's size; writes dL/doutput into grad when it is not null.
double l1_loss(const Backend& backend, const Tensor& output, const float* target, float* grad);
double mse_loss(const Backend& backend, const Tensor& output, const float* target, float* grad);

}  // namespace mnistlab
