// Batcher: which sentence pairs go into each training batch, epoch by epoch.
//
// Usage:
//   tandem::data::Batcher batcher(source_lengths, target_lengths, options);
//   for (int step = 0; step < n; ++step) {
//     const std::vector<int64_t>& indices = batcher.next();   // indices into the corpus
//     ...
//   }
//   BatchPosition saved = batcher.position();   // into a checkpoint
//   batcher.seek(saved);                         // after a restart: the same batches follow
//
// One epoch's plan: shuffle all pairs (seeded), cut them into windows of
// `window` batches' worth, sort each window by length (so a batch holds pairs of
// similar length and little padding), cut batches within the sentence and token
// budgets, then shuffle the batches. The plan depends only on the lengths, the
// options, the seed and the epoch number, never on the history: that is what
// makes resuming exact. Every pair appears in exactly one batch per epoch; a pair
// alone over the token budget forms a batch of its own rather than be dropped.
#pragma once

#include <cstdint>
#include <vector>

namespace tandem::data {

struct BatchOptions {
  /// Sentence pairs per batch at most (--mini-batch); 0 = no such limit. Default 64.
  int64_t max_sentences = 64;
  /// Padded tokens per batch at most: pairs x (longest side + 1) (--mini-batch-tokens);
  /// 0 = no such limit. Default 0.
  int64_t max_tokens = 0;
  /// Sort by length within windows of this many batches (--maxi-batch); 1 turns
  /// bucketing off. Default 100.
  int64_t window = 100;
  /// Shuffle pairs before bucketing and batches after. Default true.
  bool shuffle = true;
  /// Seed of the shuffles. Default 1234.
  uint64_t seed = 1234;
};

/// Where the batch stream stands: the next batch is `index` of epoch `epoch`.
struct BatchPosition {
  int64_t epoch = 0;
  int64_t index = 0;
  bool operator==(const BatchPosition& other) const {
    return epoch == other.epoch && index == other.index;
  }
};

class Batcher {
 public:
  /// `source_lengths[i]` and `target_lengths[i]` are pair i's piece counts;
  /// throws tandem::Error when they differ in size, are empty, or no limit is set.
  Batcher(std::vector<int64_t> source_lengths, std::vector<int64_t> target_lengths,
          BatchOptions options);

  /// The batches of one epoch, each a list of pair indices.
  std::vector<std::vector<int64_t>> plan(int64_t epoch) const;

  /// The next batch; moves on to the next epoch after the last batch of one.
  const std::vector<int64_t>& next();

  /// The position of the batch next() returns next.
  BatchPosition position() const { return position_; }

  /// Continues from a saved position.
  void seek(BatchPosition position);

  /// Epochs whose every batch next() has returned.
  int64_t completed_epochs();

 private:
  void ensure_plan();

  std::vector<int64_t> source_lengths_;
  std::vector<int64_t> target_lengths_;
  BatchOptions options_;
  BatchPosition position_;
  int64_t planned_epoch_ = -1;
  std::vector<std::vector<int64_t>> current_plan_;
};

}  // namespace tandem::data
