// Paired bootstrap resampling (sacreBLEU's --paired-bs, after Koehn 2004).
//
// Usage:
//   // stats[s][i]: system s's sufficient statistics of segment i (system 0 is the baseline)
//   auto results = tandem::eval::paired_bootstrap(stats, score_of, {1000, 12345});
//   results[1].p_value;   // system 1 against the baseline
//
// One set of `samples` resamples (segment indices drawn with replacement from a
// std::mt19937_64 seeded with `seed`) serves every system. For each system: the
// score of every resample, their mean and the 95% interval (half the distance
// between the resample scores at n/40 and n - n/40 - 1 when sorted); for each
// system but the baseline, the p-value of its difference to the baseline:
// d = |score - baseline score|, D_k = |score_k - baseline_k| over resamples,
// p = (#{D_k - mean(D) > d} + 1) / (samples + 1). The same seed gives the same figures.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace tandem::eval {

struct BootstrapOptions {
  /// Resamples (--paired-bs-n). Default 1000.
  int samples = 1000;
  /// Seed of the resampling (SACREBLEU_SEED). Default 12345.
  uint64_t seed = 12345;
};

struct BootstrapResult {
  double score = 0.0;             ///< the score of all segments
  double mean = 0.0;              ///< mean of the resample scores
  double ci = 0.0;                ///< half-width of the 95% interval around it
  std::optional<double> p_value;  ///< against the baseline (absent for the baseline)
};

using SegmentStats = std::vector<std::vector<int64_t>>;  ///< [segment][statistic]

std::vector<BootstrapResult> paired_bootstrap(const std::vector<SegmentStats>& systems,
                                              const std::function<double(const std::vector<int64_t>&)>& score_of,
                                              const BootstrapOptions& options = {});

}  // namespace tandem::eval
