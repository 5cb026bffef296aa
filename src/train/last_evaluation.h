#pragma once
// What a task's evaluate() found, kept for the picture or the report that
// the loop asks for right after, on the same set with the same weights
// (Task::picture's contract), so they need no second pass over the set.
#include <optional>
#include <utility>

#include "mnistlab/data.h"
#include "mnistlab/model.h"

namespace mnistlab {

template <class T>
class LastEvaluation {
 public:
  void keep(const Dataset& data, const Model& model, T value) {
    data_ = &data;
    steps_ = model.training_steps();
    value_ = std::move(value);
  }
  // The kept value when it belongs to this set and these weights (by
  // training steps). Taken once: a later set may sit at the same address.
  std::optional<T> take(const Dataset& data, const Model& model) {
    if (data_ != &data || steps_ != model.training_steps()) return std::nullopt;
    data_ = nullptr;
    return std::move(value_);
  }

 private:
  const Dataset* data_ = nullptr;
  uint64_t steps_ = 0;
  T value_{};
};

}  // namespace mnistlab
