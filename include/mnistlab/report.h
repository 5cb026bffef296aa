#pragma once
// What a run leaves to look at: curves.png (drawn by gnuplot), and the
// per-class accuracy and confusion matrix of report.txt.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mnistlab/trainer.h"

namespace mnistlab {

// "mnist": the digits; "fashion": T-shirt/top, Trouser, Pullover, ...
const std::vector<std::string>& class_names(const std::string& dataset);

struct CurvesInfo {
  std::string title;      // "vgg-bn on fashion"
  std::string eval_name;  // "test" or "validation"
  int best_epoch = 0;     // marked with a dashed line; 0: none
};

// Writes DIR/curves.dat and DIR/curves.gp and runs gnuplot on them to draw
// DIR/curves.png (accuracy and loss per epoch, train and evaluation set).
// Returns "" or why the picture could not be drawn; the run goes on either way.
std::string draw_curves(const std::filesystem::path& dir, const std::vector<EpochMetrics>& history,
                        const CurvesInfo& info);

// Per-class accuracy and the confusion matrix (rows: true class, columns:
// predicted) as text; counts[label * 10 + predicted].
std::string class_report(const std::vector<int64_t>& counts, const std::vector<std::string>& names);

}  // namespace mnistlab
