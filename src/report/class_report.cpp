#include <cstdio>

#include "mnistlab/report.h"

namespace mnistlab {

const std::vector<std::string>& class_names(const std::string& dataset) {
  // torchvision.datasets.FashionMNIST.classes
  static const std::vector<std::string> fashion = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  static const std::vector<std::string> digits = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  return dataset == "fashion" ? fashion : digits;
}

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
