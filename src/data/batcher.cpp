#include "tandem/data/batcher.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "tandem/error.h"

namespace tandem::data {
namespace {

// std::mt19937_64 is specified exactly by the standard; the distributions are
// not, so the shuffle draws its integers itself and is the same everywhere.
class Rng {
 public:
  Rng(uint64_t seed, int64_t epoch, uint64_t stream)
      : engine_(mix(seed ^ mix(static_cast<uint64_t>(epoch) * 0x9E3779B97F4A7C15ULL + stream))) {}

  /// Uniform in [0, n).
  uint64_t below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t draw = engine_();
    while (draw >= limit) draw = engine_();
    return draw % n;
  }

  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[below(i)]);
  }

 private:
  static uint64_t mix(uint64_t x) {  // splitmix64 finalizer
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
  }
  std::mt19937_64 engine_;
};

}  // namespace

Batcher::Batcher(std::vector<int64_t> source_lengths, std::vector<int64_t> target_lengths,
                 BatchOptions options)
    : source_lengths_(std::move(source_lengths)),
      target_lengths_(std::move(target_lengths)),
      options_(options) {
  if (source_lengths_.size() != target_lengths_.size()) {
    throw Error("batcher: " + std::to_string(source_lengths_.size()) + " source lengths but " +
                std::to_string(target_lengths_.size()) + " target lengths");
  }
  if (source_lengths_.empty()) throw Error("the corpus has no sentence pairs to batch");
  if (options_.max_sentences <= 0 && options_.max_tokens <= 0) {
    throw Error("set a batch size: --mini-batch (sentences) or --mini-batch-tokens above 0");
  }
  if (options_.max_sentences < 0 || options_.max_tokens < 0 || options_.window < 1) {
    throw Error("batch sizes must not be negative and --maxi-batch must be at least 1");
  }
}

std::vector<std::vector<int64_t>> Batcher::plan(int64_t epoch) const {
  const auto n = static_cast<int64_t>(source_lengths_.size());
  const auto cost = [&](int64_t i) {  // padded length of a pair: longest side + bos/eos
    return std::max(source_lengths_[i], target_lengths_[i]) + 1;
  };
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  if (options_.shuffle) Rng(options_.seed, epoch, 1).shuffle(order);

  std::vector<std::vector<int64_t>> batches;
  const int64_t window_sentences = options_.max_sentences * options_.window;
  const int64_t window_tokens = options_.max_tokens * options_.window;
  size_t start = 0;
  while (start < order.size()) {
    // One window of about `window` batches' worth of pairs.
    size_t end = start;
    int64_t tokens = 0;
    while (end < order.size()) {
      const int64_t count = static_cast<int64_t>(end - start);
      if (window_sentences > 0 && count >= window_sentences) break;
      if (window_tokens > 0 && count > 0 && tokens >= window_tokens) break;
      tokens += cost(order[end]);
      ++end;
    }
    if (options_.window > 1) {
      std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(start),
                       order.begin() + static_cast<std::ptrdiff_t>(end), [&](int64_t a, int64_t b) {
                         if (cost(a) != cost(b)) return cost(a) < cost(b);
                         if (source_lengths_[a] != source_lengths_[b]) {
                           return source_lengths_[a] < source_lengths_[b];
                         }
                         return target_lengths_[a] < target_lengths_[b];
                       });
    }
    // Cut the window into batches within both budgets.
    std::vector<int64_t> batch;
    int64_t longest = 0;
    for (size_t k = start; k < end; ++k) {
      const int64_t i = order[k];
      const int64_t grown = std::max(longest, cost(i));
      const auto size = static_cast<int64_t>(batch.size()) + 1;
      const bool over = (options_.max_sentences > 0 && size > options_.max_sentences) ||
                        (options_.max_tokens > 0 && size * grown > options_.max_tokens);
      if (over && !batch.empty()) {
        batches.push_back(std::move(batch));
        batch.clear();
        longest = 0;
      }
      batch.push_back(i);
      longest = std::max(longest, cost(i));
    }
    if (!batch.empty()) batches.push_back(std::move(batch));
    start = end;
  }
  if (options_.shuffle) Rng(options_.seed, epoch, 2).shuffle(batches);
  return batches;
}

void Batcher::ensure_plan() {
  if (planned_epoch_ != position_.epoch) {
    current_plan_ = plan(position_.epoch);
    planned_epoch_ = position_.epoch;
  }
}

const std::vector<int64_t>& Batcher::next() {
  ensure_plan();
  if (position_.index >= static_cast<int64_t>(current_plan_.size())) {
    position_ = {position_.epoch + 1, 0};
    ensure_plan();
  }
  return current_plan_[static_cast<size_t>(position_.index++)];
}

int64_t Batcher::completed_epochs() {
  ensure_plan();
  return position_.index >= static_cast<int64_t>(current_plan_.size()) ? position_.epoch + 1 : position_.epoch;
}

void Batcher::seek(BatchPosition position) {
  if (position.epoch < 0 || position.index < 0) {
    throw Error("invalid batch position (epoch " + std::to_string(position.epoch) + ", batch " +
                std::to_string(position.index) + ")");
  }
  position_ = position;
}

}  // namespace tandem::data
