#include "tandem/plot/learning_curves.h"

#include <algorithm>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "tandem/error.h"

namespace tandem::plot {
namespace {

using nlohmann::json;

// A series being read, with the update of each point: a resumed run repeats
// updates, and its points replace the earlier try's from there on.
struct Reading {
  Series series;
  std::vector<double> updates;
  void add(double update, double x, double y) {
    while (!updates.empty() && updates.back() >= update) {
      updates.pop_back();
      series.x.pop_back();
      series.y.pop_back();
    }
    updates.push_back(update);
    series.x.push_back(x);
    series.y.push_back(y);
  }
};

// Seconds at `update` from the training records' (update, seconds), linearly between them.
double seconds_at(const std::vector<std::pair<double, double>>& clock, double update) {
  if (clock.empty()) return 0.0;
  const auto after = std::lower_bound(clock.begin(), clock.end(), std::make_pair(update, -1e300));
  if (after == clock.begin()) return clock.front().second * update / std::max(clock.front().first, 1.0);
  if (after == clock.end()) return clock.back().second;
  const auto before = after - 1;
  const double share = (update - before->first) / std::max(after->first - before->first, 1e-9);
  return before->second + share * (after->second - before->second);
}

bool is_metric(const std::string& key) {
  return key != "type" && key != "update" && key != "epoch" && key != "stalled" && key != "seconds";
}

}  // namespace

LearningCurves read_learning_curves(const std::vector<RunLog>& runs, XAxis x_axis) {
  if (runs.empty()) throw Error("no run to plot");
  const bool hours = x_axis == XAxis::kHours;
  const std::string x_label = hours ? "hours of training" : "updates";
  Panel loss{"training loss", x_label, "loss per target piece", {}};
  Panel rate{"learning rate", x_label, "learning rate", {}, /*log_y=*/true};
  std::vector<Panel> metrics;
  std::map<std::string, size_t> metric_panel;
  LearningCurves curves;
  for (const auto& run : runs) {
    std::ifstream in(run.path);
    if (!in) throw Error(run.path + ": cannot read the training log (a model folder holds train.log.jsonl)");
    Reading run_loss{{run.label, {}, {}}, {}}, run_rate{{run.label, {}, {}}, {}};
    std::map<std::string, Reading> run_metrics;
    std::vector<std::string> metric_order;
    std::vector<std::pair<double, double>> clock;  // (update, seconds) of the training records
    std::vector<std::pair<double, json>> valid;    // validations, placed on the clock after reading
    std::string line;
    int64_t number = 0, records = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!record.is_object() || !record.contains("type") || !record.contains("update") ||
          !record["update"].is_number()) {
        curves.warnings.push_back(run.path + ":" + std::to_string(number) +
                                  ": not a record of tandem-train (a line cut off by a killed run?); left out");
        continue;
      }
      ++records;
      const double update = record["update"].get<double>();
      const std::string type = record["type"].get<std::string>();
      if (type == "train") {
        const double seconds = record.value("seconds", 0.0);
        while (!clock.empty() && clock.back().first >= update) clock.pop_back();
        clock.emplace_back(update, seconds);
        const double x = hours ? seconds / 3600.0 : update;
        if (record.contains("loss") && record["loss"].is_number()) run_loss.add(update, x, record["loss"].get<double>());
        if (record.contains("learn_rate") && record["learn_rate"].is_number()) {
          run_rate.add(update, x, record["learn_rate"].get<double>());
        }
      } else if (type == "valid") {
        valid.emplace_back(update, record);
      }
    }
    if (records == 0) throw Error(run.path + ": no training or validation record in it");
    for (const auto& [update, record] : valid) {
      double x = update;
      if (hours) {
        x = (record.contains("seconds") && record["seconds"].is_number() ? record["seconds"].get<double>()
                                                                          : seconds_at(clock, update)) / 3600.0;
      }
      for (const auto& [key, value] : record.items()) {
        if (!is_metric(key) || !value.is_number()) continue;
        if (!run_metrics.count(key)) metric_order.push_back(key);
        auto& reading = run_metrics[key];
        reading.series.label = run.label;
        reading.add(update, x, value.get<double>());
      }
    }
    if (!run_loss.updates.empty()) loss.series.push_back(std::move(run_loss.series));
    if (!run_rate.updates.empty()) rate.series.push_back(std::move(run_rate.series));
    for (const auto& key : metric_order) {
      if (!metric_panel.count(key)) {
        metric_panel[key] = metrics.size();
        metrics.push_back(Panel{"validation " + key, x_label, key, {}, /*log_y=*/key == "perplexity"});
      }
      metrics[metric_panel[key]].series.push_back(std::move(run_metrics[key].series));
    }
  }
  if (!loss.series.empty()) curves.panels.push_back(std::move(loss));
  for (auto& p : metrics) curves.panels.push_back(std::move(p));
  if (!rate.series.empty()) curves.panels.push_back(std::move(rate));
  return curves;
}

}  // namespace tandem::plot
