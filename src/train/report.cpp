#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <ostream>
#include <sstream>
#include <utility>
#include <vector>

#include "tandem/eval/score_format.h"
#include "tandem/util/progress_line.h"

namespace tandem::train {

using eval::fixed_decimals;

TrainReport::TrainReport(const TrainOptions& o, std::ostream& log, bool verbose, io::JsonLog* json, int64_t world,
                         const model::TrainState& state, const TrainingData& data)
    : o_(o),
      log_(log),
      verbose_(verbose),
      json_(json),
      world_(world),
      seconds_before_(state.seconds),
      updates_before_(state.updates),
      tokens_before_(state.target_tokens),
      epochs_before_(static_cast<double>(state.position.epoch) + data.epoch_share()) {}

double TrainReport::elapsed() const {
  return seconds_before_ + std::chrono::duration<double>(Clock::now() - run_start_).count();
}

void TrainReport::add_update(double loss_sum, double nll_sum, int64_t tokens) {
  window_loss_ += loss_sum;
  window_nll_ += nll_sum;
  window_tokens_ += tokens;
}

void TrainReport::display(const model::TrainState& state, double learn_rate) {
  const double seconds = std::max(std::chrono::duration<double>(Clock::now() - window_start_).count(), 1e-9);
  const double tokens = static_cast<double>(std::max<int64_t>(window_tokens_, 1));
  const double loss = window_loss_ / tokens;
  const double ppl = std::exp(window_nll_ / tokens);
  const double speed = static_cast<double>(window_tokens_) / seconds;
  const double comm_share = window_comm_seconds_ / seconds;
  const bool distributed = world_ > 1;
  if (verbose_) {
    char lr_text[32];
    std::snprintf(lr_text, sizeof(lr_text), "%.2e", learn_rate);
    log_ << "ep " << state.position.epoch + 1 << " · up " << state.updates << " · sents " << state.sentences
         << " · loss " << fixed_decimals(loss, 4) << " · ppl " << fixed_decimals(ppl, 2) << " · lr " << lr_text << " · "
         << fixed_decimals(speed, 0) << " tok/s";
    if (distributed) log_ << " · all-reduce " << fixed_decimals(100.0 * comm_share, 1) << "%";
    log_ << " · " << fixed_decimals(elapsed(), 1) << "s\n";
  }
  if (json_ != nullptr) {
    std::vector<std::pair<std::string, double>> fields{{"epoch", static_cast<double>(state.position.epoch + 1)},
                                                       {"update", static_cast<double>(state.updates)},
                                                       {"sentences", static_cast<double>(state.sentences)},
                                                       {"target_tokens", static_cast<double>(state.target_tokens)},
                                                       {"loss", loss},
                                                       {"perplexity", ppl},
                                                       {"learn_rate", learn_rate},
                                                       {"target_tokens_per_second", speed},
                                                       {"seconds", elapsed()}};
    if (distributed) {
      fields.emplace_back("workers", static_cast<double>(world_));
      fields.emplace_back("all_reduce_share", comm_share);
    }
    json_->write("train", fields);
  }
  window_loss_ = window_nll_ = 0.0;
  window_tokens_ = 0;
  window_comm_seconds_ = 0.0;
  window_start_ = Clock::now();
}

std::string TrainReport::progress(const model::TrainState& state, const TrainingData& data) const {
  const double now = elapsed();
  const double run_seconds = std::max(now - seconds_before_, 1e-9);
  const double updates_per_second = static_cast<double>(state.updates - updates_before_) / run_seconds;
  const double tokens_per_second = static_cast<double>(state.target_tokens - tokens_before_) / run_seconds;
  const double epochs = static_cast<double>(data.position().epoch) + data.epoch_share();
  double left = std::numeric_limits<double>::infinity();
  if (o_.after_updates > 0 && updates_per_second > 0) {
    left = std::min(left, static_cast<double>(o_.after_updates - state.updates) / updates_per_second);
  }
  if (o_.after_epochs > 0 && epochs > epochs_before_) {
    left = std::min(left, (static_cast<double>(o_.after_epochs) - epochs) / ((epochs - epochs_before_) / run_seconds));
  }
  if (o_.after_seconds > 0) left = std::min(left, o_.after_seconds - now);
  std::ostringstream text;
  text << "ep " << data.position().epoch + 1 << " " << fixed_decimals(100.0 * data.epoch_share(), 0)
       << "% · up " << state.updates << " · " << fixed_decimals(updates_per_second, 2) << " up/s · "
       << fixed_decimals(tokens_per_second, 0) << " tok/s";
  if (std::isfinite(left)) text << " · " << util::format_duration(std::max(left, 0.0)) << " left";
  return text.str();
}

}  // namespace tandem::train
