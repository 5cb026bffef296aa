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
// not null. `batch`: the samples the gradient's mean is over when these
// rows are one rank's share of a global batch (data parallel: the ranks'
// gradients then sum to the global batch's); 0: logits.n. The returned loss
// is always the mean over these rows.
double cross_entropy(const Backend& backend, const Tensor& logits, const int32_t* labels, float* grad, int* correct,
                     float label_smoothing = 0, int batch = 0);
// eps itself, or Error when it is not in [0, 1).
float checked_label_smoothing(float eps);

// nn.L1Loss / nn.MSELoss (mean over every element) against a target of the
// output's size; writes dL/doutput into grad when it is not null (`batch`
// as cross_entropy's).
double l1_loss(const Backend& backend, const Tensor& output, const float* target, float* grad, int batch = 0);
double mse_loss(const Backend& backend, const Tensor& output, const float* target, float* grad, int batch = 0);

}  // namespace mnistlab
