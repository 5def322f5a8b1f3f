// Internal to train/: the exponentially smoothed weights (--exponential-smoothing)
// and the snapshots kept for tandem-average (--save-freq, --keep-last).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "tandem/model/seq2seq.h"

namespace tandem::train {

class SmoothedWeights {
 public:
  /// Off when `factor` is 0; otherwise starts from `start` (a checkpoint's
  /// smoothed weights on resume) or, when `start` is empty, a copy of the
  /// model's weights.
  SmoothedWeights(double factor, model::Seq2Seq& model, std::vector<torch::Tensor> start);

  bool enabled() const { return factor_ > 0; }

  /// After an optimizer step: smoothed += smoothing_rate(factor, updates_before) * (weights - smoothed).
  void update(const std::vector<torch::Tensor>& weights, int64_t updates_before);

  /// Runs `body` with the model's weights replaced by the smoothed ones and puts
  /// the raw weights back after, also when `body` throws; just runs `body` when
  /// smoothing is off.
  void run_with(model::Seq2Seq& model, const std::function<void()>& body) const;

  /// What a checkpoint stores: the smoothed weights, or null when off.
  const std::vector<torch::Tensor>* for_checkpoint() const { return enabled() ? &weights_ : nullptr; }

 private:
  double factor_;
  std::vector<torch::Tensor> weights_;
};

/// The snapshot written after `updates` updates: DIR/model.iter-UPDATES.ckpt.
std::filesystem::path snapshot_path(const std::filesystem::path& dir, int64_t updates);

/// Deletes all but the newest `keep` snapshots in `dir` (by their update count).
void prune_snapshots(const std::filesystem::path& dir, int64_t keep);

}  // namespace tandem::train
