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
// One epoch: a seeded permutation of all pairs (computed pair by pair, a
// keyed bijection, so no list of the corpus is ever held), cut into windows of
// `window` batches' worth; each window is sorted by length (so a batch holds
// pairs of similar length and little padding), cut into batches within the
// sentence and token budgets, and its batches are shuffled. Only the current
// window is in memory, so a corpus of millions of pairs costs no more than a
// small one. The plan depends only on the lengths, the options, the seed and
// the epoch number, never on the history: that is what makes resuming exact.
// Every pair appears in exactly one batch per epoch; a pair alone over the
// token budget forms a batch of its own rather than be dropped.
#pragma once

#include <cstdint>
#include <functional>
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
  /// Pair i's piece count on one side.
  using Length = std::function<int64_t(int64_t)>;

  /// `source_lengths[i]` and `target_lengths[i]` are pair i's piece counts;
  /// throws tandem::Error when they differ in size, are empty, or no limit is set.
  Batcher(std::vector<int64_t> source_lengths, std::vector<int64_t> target_lengths,
          BatchOptions options);
  /// The same for `pairs` pairs whose lengths are looked up (a corpus's, kept where it is).
  Batcher(int64_t pairs, Length source_length, Length target_length, BatchOptions options);

  /// The batches of one epoch, each a list of pair indices (all of them in memory:
  /// for tools and tests; training takes them one by one with next()).
  std::vector<std::vector<int64_t>> plan(int64_t epoch) const;

  /// The next batch; moves on to the next epoch after the last batch of one.
  const std::vector<int64_t>& next();

  /// The position of the batch next() returns next.
  BatchPosition position() const { return position_; }

  /// Continues from a saved position.
  void seek(BatchPosition position);

  /// Epochs whose every batch next() has returned.
  int64_t completed_epochs();

  /// How far into its epoch the stream stands, in [0, 1] (by pairs, to a window's
  /// precision): for progress lines.
  double epoch_share() const;

 private:
  // The window of the epoch that starts at permutation position `start`: its
  // batches into `batches`, and the position after it. False past the end.
  bool cut_window(int64_t epoch, int64_t window, int64_t start, std::vector<std::vector<int64_t>>& batches,
                  int64_t& end) const;
  // The pair at position k of the epoch's order.
  int64_t permuted(int64_t epoch, int64_t k) const;
  int64_t cost(int64_t i) const;
  // Loads the window holding batch position_.index of position_.epoch; false when the epoch has no such batch.
  bool load_window();

  int64_t pairs_ = 0;
  Length source_length_;
  Length target_length_;
  BatchOptions options_;
  BatchPosition position_;
  // The loaded window: its epoch and number, where it starts in the epoch's order
  // and its batches, and the epoch index of its first batch.
  int64_t window_epoch_ = -1;
  int64_t window_ = -1;
  int64_t window_start_ = 0;
  int64_t window_end_ = 0;
  int64_t window_first_batch_ = 0;
  std::vector<std::vector<int64_t>> window_batches_;
  std::vector<int64_t> batch_;  // what next() returned last
};

}  // namespace tandem::data
