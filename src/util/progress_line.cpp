#include "tandem/util/progress_line.h"

#include <cmath>
#include <cstdio>

namespace tandem::util {

ProgressLine::ProgressLine(std::ostream& out, bool enabled, double min_interval_seconds)
    : out_(out), enabled_(enabled), min_interval_(min_interval_seconds) {}

void ProgressLine::show(const std::string& text, bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (shown_ && !force && std::chrono::duration<double>(now - last_).count() < min_interval_) return;
  out_ << "\r" << text << "\033[K" << std::flush;
  shown_ = true;
  last_ = now;
}

void ProgressLine::clear() {
  if (!enabled_ || !shown_) return;
  out_ << "\r\033[K" << std::flush;
  shown_ = false;
}

void ProgressLine::finish() {
  if (!enabled_ || !shown_) return;
  out_ << "\n" << std::flush;
  shown_ = false;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<long long>(std::llround(seconds));
  char buffer[48];
  if (total >= 3600) {
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld:%02lld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld", total / 60, total % 60);
  }
  return buffer;
}

}  // namespace tandem::util
