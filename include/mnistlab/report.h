#pragma once
// What a run leaves to look at: curves.png (drawn by gnuplot), and the
// per-class accuracy and confusion matrix of report.txt.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>


namespace mnistlab {

// A figure of per-epoch curves: panels side by side, each with its series.
struct CurveSeries {
  std::string title;  // legend entry
  int column;         // index into a row of CurvesSpec::rows
  double scale = 1;   // e.g. 100 for accuracies in percent
};
struct CurvePanel {
  std::string ylabel;
  std::vector<CurveSeries> series;
};
struct CurvesSpec {
  std::string title;                      // "vgg-bn on fashion"
  std::vector<std::string> columns;       // names of the row values; the first is the epoch
  std::vector<std::vector<double>> rows;  // one per epoch
  std::vector<CurvePanel> panels;
  int best_epoch = 0;                     // marked with a dashed line; 0: none
};

// Writes DIR/curves.dat and DIR/curves.gp and runs gnuplot on them to draw
// DIR/curves.png. Returns "" or why the picture could not be drawn; the
// run goes on either way.
std::string draw_curves(const std::filesystem::path& dir, const CurvesSpec& spec);

// Per-class accuracy and the confusion matrix (rows: true class, columns:
// predicted) as text; counts[label * names.size() + predicted].
std::string class_report(const std::vector<int64_t>& counts, const std::vector<std::string>& names);

}  // namespace mnistlab
