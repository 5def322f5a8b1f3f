// Learning-rate schedules: constant, warm-up then inverse square root, and
// decay on plateau of the validation metric.
//
// Usage:
//   LrScheduler scheduler(options);
//   double lr = scheduler.rate(update);           // before each update (1-based)
//   scheduler.on_validation(/*improved=*/false);  // after each validation
//   std::string saved = scheduler.state();        // into the checkpoint; restore() reads it
#pragma once

#include <cstdint>
#include <string>

namespace tandem::train {

enum class LrScheduleType { kConstant, kInverseSqrt, kPlateau };

struct LrScheduleOptions {
  LrScheduleType type = LrScheduleType::kConstant;
  double base = 1e-3;         ///< --learn-rate
  int64_t warmup = 0;         ///< --lr-warmup: updates of linear warm-up (0 = none)
  double decay = 0.5;         ///< --lr-decay: factor applied on a plateau
  int64_t patience = 1;       ///< --lr-patience: validations without improvement before a decay
  double minimum = 1e-6;      ///< --lr-min: the rate never goes below this
};

/// The rate of exponential smoothing for the update that follows `updates_before`
/// updates: max(factor, 9 / (updates_before + 10)), as Marian does, so that early on
/// the smoothed weights follow the young model (0.9 at the first update, about
/// 1 / updates later) instead of staying near the random start for 1 / factor updates.
double smoothing_rate(double factor, int64_t updates_before);

class LrScheduler {
 public:
  explicit LrScheduler(LrScheduleOptions options);

  /// The rate for update number `update` (1-based).
  double rate(int64_t update) const;

  /// Tells a plateau schedule whether the validation metric improved.
  void on_validation(bool improved);

  std::string state() const;
  void restore(const std::string& state);

 private:
  LrScheduleOptions options_;
  int64_t decays_ = 0;
  int64_t stalled_ = 0;
};

}  // namespace tandem::train
