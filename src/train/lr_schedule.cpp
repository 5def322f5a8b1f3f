#include "tandem/train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "tandem/error.h"

namespace tandem::train {

LrScheduler::LrScheduler(LrScheduleOptions options) : options_(options) {
  if (options_.base <= 0) throw Error("--learn-rate must be above 0");
  if (options_.warmup < 0) throw Error("--lr-warmup must not be negative");
  if (options_.decay <= 0 || options_.decay > 1) throw Error("--lr-decay must be in (0, 1]");
  if (options_.patience < 1) throw Error("--lr-patience must be at least 1");
}

double LrScheduler::rate(int64_t update) const {
  const auto u = static_cast<double>(std::max<int64_t>(update, 1));
  const auto w = static_cast<double>(options_.warmup);
  double rate = options_.base;
  if (options_.warmup > 0 && u < w) rate *= u / w;
  if (options_.type == LrScheduleType::kInverseSqrt && options_.warmup > 0 && u >= w) rate *= std::sqrt(w / u);
  if (options_.type == LrScheduleType::kInverseSqrt && options_.warmup == 0) rate /= std::sqrt(u);
  if (options_.type == LrScheduleType::kPlateau) rate *= std::pow(options_.decay, static_cast<double>(decays_));
  return std::max(rate, options_.minimum);
}

void LrScheduler::on_validation(bool improved) {
  if (options_.type != LrScheduleType::kPlateau) return;
  stalled_ = improved ? 0 : stalled_ + 1;
  if (stalled_ >= options_.patience) {
    ++decays_;
    stalled_ = 0;
  }
}

std::string LrScheduler::state() const {
  return std::to_string(decays_) + " " + std::to_string(stalled_);
}

void LrScheduler::restore(const std::string& state) {
  std::istringstream in(state);
  if (!(in >> decays_ >> stalled_)) throw Error("the checkpoint's learning-rate schedule state is damaged");
}

double smoothing_rate(double factor, int64_t updates_before) {
  return std::max(factor, 9.0 / (static_cast<double>(updates_before) + 10.0));
}

}  // namespace tandem::train
