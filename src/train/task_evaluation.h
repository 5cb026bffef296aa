#pragma once
// The one evaluation loop every task's evaluation, picture and report runs:
// the dataset in order, batch by batch, with the model in eval mode.
#include <cstddef>
#include <cstdint>
#include <functional>

#include "mnistlab/data.h"
#include "mnistlab/model.h"

namespace mnistlab {

// The model in eval mode while it lives (nothing when null), then back in
// the mode it had, also when an evaluation throws.
class EvalMode {
 public:
  explicit EvalMode(Model* model) : model_(model), was_training_(model && model->is_training()) {
    if (model_) model_->eval();
  }
  ~EvalMode() {
    if (model_) model_->train(was_training_);
  }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;

 private:
  Model* model_;
  bool was_training_;
};

// Every sample of `data` once, in order, batch_size at a time (the last
// batch may be smaller): on_batch(images in [0, 1], labels, n, first), first
// being the batch's first sample; the images are the loop's buffer, which
// on_batch may change (test-time flips).
using EvalBatch = std::function<void(float* images, const int32_t* labels, int n, size_t first)>;
void for_each_batch(const Dataset& data, int batch_size, const EvalBatch& on_batch);

}  // namespace mnistlab
