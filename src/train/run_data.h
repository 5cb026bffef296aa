#pragma once
// A run's data: the training and test sets of its dataset, named by their
// classes when the task names them, cut to the limits, and the validation
// split that chooses the epoch when there is one.
#include <string>

#include "mnistlab/data.h"
#include "mnistlab/run.h"
#include "mnistlab/task.h"

namespace mnistlab {

struct RunData {
  std::string dir;  // where the dataset's files are
  Dataset train, val, test;
  bool validating = false;   // a validation split chooses the epoch
  std::string eval_name;     // "val" or "test": the set evaluated after each epoch
  const Dataset& eval_set() const { return validating ? val : test; }
};

RunData load_run_data(const RunConfig& config, const Task& task);

}  // namespace mnistlab
