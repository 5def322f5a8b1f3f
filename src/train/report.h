// Internal to train/: what training says while it runs: the line every
// --disp-freq updates (on stderr when verbose, and in train.log.jsonl) and the
// terminal's progress line.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

#include "tandem/io/json_log.h"
#include "tandem/model/checkpoint.h"
#include "tandem/train/train_options.h"
#include "training_data.h"

namespace tandem::train {

class TrainReport {
 public:
  /// `json` may be null (workers other than rank 0); `world` > 1 adds the
  /// all-reduce share. The run's figures count from `state` and `data` as
  /// they are now (a resumed run reports its own speed).
  TrainReport(const TrainOptions& o, std::ostream& log, bool verbose, io::JsonLog* json, int64_t world,
              const model::TrainState& state, const TrainingData& data);

  /// The seconds of training so far, over resumes.
  double elapsed() const;

  void add_communication(double seconds) { window_comm_seconds_ += seconds; }
  void add_update(double loss_sum, double nll_sum, int64_t tokens);

  /// The display line over the updates since the last one, then a new window.
  void display(const model::TrainState& state, double learn_rate);

  /// The progress line: epoch and its share, speed, and the time left to the nearest limit.
  std::string progress(const model::TrainState& state, const TrainingData& data) const;

 private:
  using Clock = std::chrono::steady_clock;
  const TrainOptions& o_;
  std::ostream& log_;
  bool verbose_;
  io::JsonLog* json_;
  int64_t world_;
  Clock::time_point run_start_ = Clock::now();
  double seconds_before_;
  int64_t updates_before_;
  int64_t tokens_before_;
  double epochs_before_;
  Clock::time_point window_start_ = Clock::now();
  double window_loss_ = 0.0;
  double window_nll_ = 0.0;
  int64_t window_tokens_ = 0;
  double window_comm_seconds_ = 0.0;
};

}  // namespace tandem::train
