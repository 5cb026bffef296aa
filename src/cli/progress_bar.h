#pragma once
// A one-line progress bar with images/s and ETA, redrawn in place on a
// terminal; nothing at all when stdout is a pipe or a CI log.
#include <cstddef>
#include <string>

namespace mnistlab::cli {

class ProgressBar {
 public:
  explicit ProgressBar(int epochs);
  bool on_terminal() const { return terminal_; }
  void update(int epoch, size_t done, size_t total, double seconds);
  // Erases the bar so a normal line can be printed in its place.
  void clear();

 private:
  int epochs_;
  bool terminal_;
  bool shown_ = false;
  double last_drawn_ = -1;
};

std::string format_duration(double seconds);  // "42s", "3m07s", "1h02m"

}  // namespace mnistlab::cli
