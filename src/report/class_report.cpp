#include <cstdio>

#include "mnistlab/report.h"

namespace mnistlab {

std::string class_report(const std::vector<int64_t>& counts, const std::vector<std::string>& names) {
  const size_t k = names.size();
  std::string out = "per-class accuracy (test set)\n";
  char line[256];
  for (size_t c = 0; c < k; ++c) {
    int64_t total = 0;
    for (size_t p = 0; p < k; ++p) total += counts[c * k + p];
    const double acc = total ? 100.0 * double(counts[c * k + c]) / double(total) : 0.0;
    std::snprintf(line, sizeof line, "  %-12s %6.2f%%  (%lld of %lld)\n", names[c].c_str(), acc,
                  static_cast<long long>(counts[c * k + c]), static_cast<long long>(total));
    out += line;
  }
  out += "\nconfusion matrix (rows: true class, columns: predicted class)\n";
  std::snprintf(line, sizeof line, "  %-12s", "");
  out += line;
  for (size_t p = 0; p < k; ++p) {
    std::snprintf(line, sizeof line, " %6zu", p);
    out += line;
  }
  out += "\n";
  for (size_t c = 0; c < k; ++c) {
    const std::string label = names[c] == std::to_string(c) ? names[c] : std::to_string(c) + " " + names[c];
    std::snprintf(line, sizeof line, "  %-12s", label.substr(0, 12).c_str());
    out += line;
    for (size_t p = 0; p < k; ++p) {
      std::snprintf(line, sizeof line, " %6lld", static_cast<long long>(counts[c * k + p]));
      out += line;
    }
    out += "\n";
  }
  return out;
}

}  // namespace mnistlab
