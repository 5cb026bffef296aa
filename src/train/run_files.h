#pragma once
// The per-epoch files of a run folder, for any task: metrics.csv's text and
// the curves figure's spec, both from the task's metric list.
#include <string>
#include <vector>

#include "mnistlab/report.h"
#include "mnistlab/task.h"
#include "mnistlab/trainer.h"

namespace mnistlab {

// metrics.csv's columns: epoch, train_<m>..., <eval>_<m>..., seconds, images_per_s.
std::vector<std::string> metric_columns(const Task& task, const std::string& eval_name);
std::string metrics_csv(const Task& task, const std::string& eval_name, const std::vector<EpochMetrics>& history);

// One panel per evaluation metric, training's beside it where it has one.
CurvesSpec run_curves(const Task& task, const std::string& eval_name, const std::vector<EpochMetrics>& history,
                      const std::string& title, int best_epoch);

}  // namespace mnistlab
