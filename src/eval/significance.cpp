#include "tandem/eval/significance.h"

#include <algorithm>
#include <random>

#include "tandem/error.h"

namespace tandem::eval {
namespace {

std::vector<int64_t> sum_of(const SegmentStats& segments, const std::vector<size_t>* pick) {
  std::vector<int64_t> total(segments.front().size(), 0);
  const size_t n = pick != nullptr ? pick->size() : segments.size();
  for (size_t k = 0; k < n; ++k) {
    const auto& s = segments[pick != nullptr ? (*pick)[k] : k];
    for (size_t j = 0; j < total.size(); ++j) total[j] += s[j];
  }
  return total;
}

}  // namespace

std::vector<BootstrapResult> paired_bootstrap(const std::vector<SegmentStats>& systems,
                                              const std::function<double(const std::vector<int64_t>&)>& score_of,
                                              const BootstrapOptions& options) {
  if (systems.size() < 2) throw Error("paired bootstrap resampling compares at least two systems");
  if (options.samples < 1) throw Error("--paired-bs-n must be at least 1");
  const size_t segments = systems.front().size();
  if (segments == 0) throw Error("paired bootstrap resampling needs at least one segment");
  for (const auto& s : systems) {
    if (s.size() != segments) throw Error("the systems compared have different numbers of lines");
  }
  // One draw of resamples for all systems.
  std::mt19937_64 engine(options.seed);
  const uint64_t limit = UINT64_MAX - UINT64_MAX % segments;
  std::vector<std::vector<size_t>> resamples(static_cast<size_t>(options.samples), std::vector<size_t>(segments));
  for (auto& sample : resamples) {
    for (auto& index : sample) {
      uint64_t draw = engine();
      while (draw >= limit) draw = engine();
      index = static_cast<size_t>(draw % segments);
    }
  }
  std::vector<std::vector<double>> scores(systems.size());
  std::vector<BootstrapResult> results(systems.size());
  for (size_t s = 0; s < systems.size(); ++s) {
    results[s].score = score_of(sum_of(systems[s], nullptr));
    for (const auto& sample : resamples) scores[s].push_back(score_of(sum_of(systems[s], &sample)));
    auto sorted = scores[s];
    std::sort(sorted.begin(), sorted.end());
    const size_t n = sorted.size();
    const size_t lower = n / 40;
    const size_t upper = n - lower - 1;
    double sum = 0.0;
    for (const double x : sorted) sum += x;
    results[s].mean = sum / static_cast<double>(n);
    results[s].ci = 0.5 * (sorted[upper] - sorted[lower]);
  }
  for (size_t s = 1; s < systems.size(); ++s) {
    const double difference = std::abs(results[s].score - results[0].score);
    std::vector<double> diffs;
    double mean = 0.0;
    for (size_t k = 0; k < resamples.size(); ++k) {
      diffs.push_back(std::abs(scores[s][k] - scores[0][k]));
      mean += diffs.back();
    }
    mean /= static_cast<double>(diffs.size());
    int64_t above = 0;
    for (const double d : diffs) above += (d - mean) > difference;
    results[s].p_value = static_cast<double>(above + 1) / static_cast<double>(diffs.size() + 1);
  }
  return results;
}

}  // namespace tandem::eval
