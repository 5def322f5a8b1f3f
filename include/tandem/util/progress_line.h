// A progress line on a terminal: one line rewritten in place ("\r...\033[K"),
// at most a few times a second, and nothing at all when the stream is not a
// terminal (logs and pipes stay clean). tandem-train and tandem-translate share it.
//
// Usage:
//   ProgressLine progress(std::cerr, /*enabled=*/!quiet && isatty(STDERR_FILENO));
//   progress.show("12 sentences, 30 sentences/s");   // throttled
//   progress.clear();   // before a regular log line: the line goes, the log stays tidy
//   progress.finish();  // at the end: the last state stays on screen, then a newline
#pragma once

#include <chrono>
#include <ostream>
#include <string>

namespace tandem::util {

class ProgressLine {
 public:
  ProgressLine(std::ostream& out, bool enabled, double min_interval_seconds = 0.25);

  bool enabled() const { return enabled_; }

  /// Rewrites the line with `text` unless the last one is younger than the interval
  /// (`force` shows it anyway).
  void show(const std::string& text, bool force = false);

  /// Wipes the line, if one is shown; the next show() writes again.
  void clear();

  /// Ends the line shown (a newline), if any.
  void finish();

 private:
  std::ostream& out_;
  bool enabled_;
  double min_interval_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

/// "1:02:03" or "4:05" for a number of seconds (negative and non-finite: "?").
std::string format_duration(double seconds);

}  // namespace tandem::util
