#pragma once
// What a network costs, as torchsummary reports it: one row per layer that
// computes (Flatten is a view and has no row), output shapes with batch -1,
// weight + bias counts, and sizes in MB at 4 bytes per number.
#include <string>
#include <vector>

#include "mnistlab/model.h"

namespace mnistlab {

struct SummaryRow {
  std::string name;  // "<Type>-<row number>", e.g. "Conv2d-1"
  std::string type;  // "Conv2d"
  SampleShape output;
  long params = 0;         // sizes of weight and bias, as torchsummary counts
  bool trainable = false;  // torchsummary: the layer has a weight that requires grad
};

struct Summary {
  SampleShape input;
  std::vector<SummaryRow> rows;
  long total_params = 0, trainable_params = 0;
  double input_mb = 0, forward_backward_mb = 0, params_mb = 0, total_mb = 0;
};

Summary summarize(const Model& model);
// The table exactly as torchsummary.summary() prints it (its trailing empty line included).
std::string format_summary(const Summary& summary);

}  // namespace mnistlab
