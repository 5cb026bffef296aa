#pragma once
// What a classifier's evaluation scores: the log-probability of each class,
// from one image or, with test-time flips, from an image and its mirror.
#include <vector>

#include "mnistlab/model.h"

namespace mnistlab {

// The model's log_softmax for n images, [n, K] into out; with tta_flip the
// log of the mean of the softmax of each image and of its horizontal flip,
// and `images` is left flipped.
void class_log_probs(Model& model, float* images, int n, bool tta_flip, std::vector<double>& out);

}  // namespace mnistlab
