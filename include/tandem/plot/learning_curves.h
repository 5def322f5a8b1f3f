// Learning curves from tandem-train's train.log.jsonl: training loss, every
// validation metric and the learning rate, against updates or hours, one
// series per run (several runs compare in one figure).
//
// Usage:
//   auto curves = plot::read_learning_curves({{"gru", "work/gru/model/train.log.jsonl"},
//                                             {"lstm", "work/lstm/model/train.log.jsonl"}}, plot::XAxis::kUpdates);
//   std::string svg = plot::line_charts_svg(curves.panels);
//   for (auto& w : curves.warnings) std::cerr << w << "\n";   // lines left out (a killed run's cut line)
#pragma once

#include <string>
#include <vector>

#include "tandem/plot/svg_charts.h"

namespace tandem::plot {

enum class XAxis { kUpdates, kHours };

struct RunLog {
  std::string label;  ///< the run's name in the legend
  std::string path;   ///< its train.log.jsonl
};

struct LearningCurves {
  std::vector<Panel> panels;          ///< training loss, validation metrics (in order of appearance), learning rate
  std::vector<std::string> warnings;  ///< "FILE:LINE: ..." for lines left out
};

/// Reads the logs. A resumed run's repeated updates replace the earlier ones.
/// Throws tandem::Error naming the file when one cannot be read or holds no record.
LearningCurves read_learning_curves(const std::vector<RunLog>& runs, XAxis x);

}  // namespace tandem::plot
