#include "cli/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace mnistlab::cli {

std::string format_duration(double seconds) {
  const long s = long(seconds + 0.5);
  char text[32];
  if (s < 60) std::snprintf(text, sizeof text, "%lds", s);
  else if (s < 3600) std::snprintf(text, sizeof text, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(text, sizeof text, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  return text;
}

ProgressBar::ProgressBar(int epochs) : epochs_(epochs), terminal_(isatty(STDOUT_FILENO)) {}

void ProgressBar::update(int epoch, size_t done, size_t total, double seconds) {
  if (!terminal_) return;
  if (seconds - last_drawn_ < 0.25 && done < total) return;
  last_drawn_ = seconds;
  constexpr int kWidth = 30;
  const int filled = total ? int(double(kWidth) * double(done) / double(total)) : kWidth;
  std::string bar(size_t(std::clamp(filled, 0, kWidth)), '#');
  bar.resize(kWidth, '.');
  const double rate = double(done) / std::max(seconds, 1e-9);
  const double eta = double(total - done) / std::max(rate, 1e-9);
  std::printf("\r\033[Kepoch %d/%d [%s] %zu/%zu  %.0f images/s  ETA %s", epoch, epochs_, bar.c_str(), done, total,
              rate, format_duration(eta).c_str());
  std::fflush(stdout);
  shown_ = true;
}

void ProgressBar::clear() {
  if (!shown_) return;
  std::printf("\r\033[K");
  std::fflush(stdout);
  shown_ = false;
  last_drawn_ = -1;
}

}  // namespace mnistlab::cli
