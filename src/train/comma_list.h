#pragma once
// "0,3.weight" as {"0", "3.weight"}: a run option that holds several
// values keeps them joined by commas (RunOption::many). Empty parts stay,
// so a check can refuse them.
#include <algorithm>
#include <string>
#include <vector>

namespace mnistlab {

inline std::vector<std::string> comma_list(const std::string& text) {
  std::vector<std::string> parts;
  for (size_t at = 0; at <= text.size();) {
    const size_t comma = std::min(text.find(',', at), text.size());
    parts.push_back(text.substr(at, comma - at));
    at = comma + 1;
  }
  return parts;
}

}  // namespace mnistlab
