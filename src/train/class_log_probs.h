#pragma once
// What a classifier's evaluation scores: the log-probability of each class,
// from one image or, with test-time augmentation, from the mean softmax of
// its views (flips, FiveCrop/TenCrop).
#include <vector>

#include "mnistlab/model.h"
#include "mnistlab/task.h"

namespace mnistlab {

// The model's log_softmax for n images, [n, K] into out; with test-time
// augmentation the log of the mean of the softmax of each image's views.
// `images` may be left changed (flipped).
void class_log_probs(Model& model, float* images, int n, const TestTimeAugmentation& tta, std::vector<double>& out);

}  // namespace mnistlab
