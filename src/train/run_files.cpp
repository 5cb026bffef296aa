#include "train/run_files.h"

#include <cstdio>
#include <limits>

namespace mnistlab {

std::vector<std::string> metric_columns(const Task& task, const std::string& eval_name) {
  std::vector<std::string> columns = {"epoch"};
  for (const MetricInfo& m : task.train_metrics()) columns.push_back("train_" + m.name);
  for (const MetricInfo& m : task.eval_metrics()) columns.push_back(eval_name + "_" + m.name);
  columns.push_back("seconds");
  columns.push_back("images_per_s");
  return columns;
}

std::string metrics_csv(const Task& task, const std::string& eval_name, const std::vector<EpochMetrics>& history) {
  std::string csv;
  for (const std::string& c : metric_columns(task, eval_name)) csv += (csv.empty() ? "" : ",") + c;
  csv += "\n";
  char value[64];
  const size_t eval_count = task.eval_metrics().size();
  for (const EpochMetrics& m : history) {
    csv += std::to_string(m.epoch);
    for (double v : m.train) {
      std::snprintf(value, sizeof value, ",%.6f", v);
      csv += value;
    }
    // An epoch without evaluation (--eval-every) leaves its fields empty.
    for (size_t i = 0; i < eval_count; ++i) {
      if (i < m.eval.size()) {
        std::snprintf(value, sizeof value, ",%.6f", m.eval[i]);
        csv += value;
      } else {
        csv += ",";
      }
    }
    std::snprintf(value, sizeof value, ",%.3f,%.1f\n", m.seconds, m.images_per_second);
    csv += value;
  }
  return csv;
}

CurvesSpec run_curves(const Task& task, const std::string& eval_name, const std::vector<EpochMetrics>& history,
                      const std::string& title, int best_epoch) {
  const std::vector<MetricInfo> train = task.train_metrics(), eval = task.eval_metrics();
  CurvesSpec spec;
  spec.title = title;
  spec.columns = metric_columns(task, eval_name);
  spec.columns.resize(1 + train.size() + eval.size());
  for (const EpochMetrics& m : history) {
    std::vector<double> row = {double(m.epoch)};
    row.insert(row.end(), m.train.begin(), m.train.end());
    row.insert(row.end(), m.eval.begin(), m.eval.end());
    row.resize(1 + train.size() + eval.size(), std::numeric_limits<double>::quiet_NaN());  // not evaluated
    spec.rows.push_back(row);
  }
  // Accuracy first, as the course's figure had it; the loss panel after.
  for (size_t pass = 0; pass < 2; ++pass)
    for (size_t e = 0; e < eval.size(); ++e) {
      if ((eval[e].name == "loss") != (pass == 1)) continue;
      const MetricInfo& m = eval[e];
      CurvePanel panel;
      panel.ylabel = m.axis_names_split ? eval_name + " " + m.axis : m.axis;
      for (size_t t = 0; t < train.size(); ++t)
        if (train[t].name == m.name) panel.series.push_back({"train", int(1 + t), m.axis_scale});
      panel.series.push_back({eval_name, int(1 + train.size() + e), m.axis_scale});
      spec.panels.push_back(panel);
    }
  spec.best_epoch = best_epoch;
  return spec;
}

}  // namespace mnistlab
