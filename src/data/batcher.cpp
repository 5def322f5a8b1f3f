#include "tandem/data/batcher.h"

#include <algorithm>
#include <array>
#include <memory>
#include <tuple>
#include <numeric>
#include <random>

#include "tandem/error.h"
#include "tandem/util/splitmix64.h"

namespace tandem::data {
namespace {

// std::mt19937_64 is specified exactly by the standard; the distributions are
// not, so the shuffle draws its integers itself and is the same everywhere.
class Rng {
 public:
  Rng(uint64_t seed, int64_t epoch, uint64_t stream)
      : engine_(util::splitmix64(seed ^ util::splitmix64(static_cast<uint64_t>(epoch) * util::kGoldenGamma + stream))) {}

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
  std::mt19937_64 engine_;
};

}  // namespace

Batcher::Batcher(std::vector<int64_t> source_lengths, std::vector<int64_t> target_lengths, BatchOptions options)
    : options_(options) {
  if (source_lengths.size() != target_lengths.size()) {
    throw Error("batcher: " + std::to_string(source_lengths.size()) + " source lengths but " +
                std::to_string(target_lengths.size()) + " target lengths");
  }
  auto source = std::make_shared<const std::vector<int64_t>>(std::move(source_lengths));
  auto target = std::make_shared<const std::vector<int64_t>>(std::move(target_lengths));
  pairs_ = static_cast<int64_t>(source->size());
  source_length_ = [source](int64_t i) { return (*source)[static_cast<size_t>(i)]; };
  target_length_ = [target](int64_t i) { return (*target)[static_cast<size_t>(i)]; };
  *this = Batcher(pairs_, source_length_, target_length_, options);
}

Batcher::Batcher(int64_t pairs, Length source_length, Length target_length, BatchOptions options)
    : pairs_(pairs), source_length_(std::move(source_length)), target_length_(std::move(target_length)),
      options_(options) {
  if (pairs_ <= 0) throw Error("the corpus has no sentence pairs to batch");
  if (options_.max_sentences <= 0 && options_.max_tokens <= 0) {
    throw Error("set a batch size: --mini-batch (sentences) or --mini-batch-tokens above 0");
  }
  if (options_.max_sentences < 0 || options_.max_tokens < 0 || options_.window < 1) {
    throw Error("batch sizes must not be negative and --maxi-batch must be at least 1");
  }
}

int64_t Batcher::cost(int64_t i) const {  // padded length of a pair: longest side + bos/eos
  return std::max(source_length_(i), target_length_(i)) + 1;
}

int64_t Batcher::permuted(int64_t epoch, int64_t k) const {
  if (!options_.shuffle) return k;
  // A four-round Feistel network on the smallest 2h-bit domain that holds
  // every index, keyed by seed and epoch; values past the corpus walk on
  // (cycle walking), which keeps it a bijection of [0, pairs).
  int half = 1;
  while ((int64_t{1} << (2 * half)) < pairs_) ++half;
  const uint64_t mask = (uint64_t{1} << half) - 1;
  const uint64_t key =
      util::splitmix64(options_.seed ^ util::splitmix64(static_cast<uint64_t>(epoch) * util::kGoldenGamma + 1));
  auto x = static_cast<uint64_t>(k);
  do {
    uint64_t left = x >> half;
    uint64_t right = x & mask;
    for (uint64_t round = 0; round < 4; ++round) {
      const uint64_t f = util::splitmix64(key ^ (round * 0xD1B54A32D192ED03ULL) ^ right) & mask;
      const uint64_t next_right = left ^ f;
      left = right;
      right = next_right;
    }
    x = (left << half) | right;
  } while (x >= static_cast<uint64_t>(pairs_));
  return static_cast<int64_t>(x);
}

bool Batcher::cut_window(int64_t epoch, int64_t window, int64_t start, std::vector<std::vector<int64_t>>& batches,
                         int64_t& end) const {
  batches.clear();
  if (start >= pairs_) return false;
  // About `window` batches' worth of pairs of the epoch's order.
  const int64_t window_sentences = options_.max_sentences * options_.window;
  const int64_t window_tokens = options_.max_tokens * options_.window;
  std::vector<int64_t> order;
  int64_t tokens = 0;
  int64_t k = start;
  while (k < pairs_) {
    const int64_t count = k - start;
    if (window_sentences > 0 && count >= window_sentences) break;
    if (window_tokens > 0 && count > 0 && tokens >= window_tokens) break;
    const int64_t i = permuted(epoch, k);
    tokens += cost(i);
    order.push_back(i);
    ++k;
  }
  end = k;
  if (options_.window > 1) {
    std::vector<std::array<int64_t, 4>> keyed;  // cost, source, target, index: lengths looked up once
    keyed.reserve(order.size());
    for (const int64_t i : order) keyed.push_back({cost(i), source_length_(i), target_length_(i), i});
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
      return std::tie(a[0], a[1], a[2]) < std::tie(b[0], b[1], b[2]);
    });
    for (size_t j = 0; j < keyed.size(); ++j) order[j] = keyed[j][3];
  }
  // Cut the window into batches within both budgets.
  std::vector<int64_t> batch;
  int64_t longest = 0;
  for (const int64_t i : order) {
    const int64_t c = cost(i);
    const int64_t grown = std::max(longest, c);
    const auto size = static_cast<int64_t>(batch.size()) + 1;
    const bool over = (options_.max_sentences > 0 && size > options_.max_sentences) ||
                      (options_.max_tokens > 0 && size * grown > options_.max_tokens);
    if (over && !batch.empty()) {
      batches.push_back(std::move(batch));
      batch.clear();
      longest = 0;
    }
    batch.push_back(i);
    longest = std::max(longest, c);
  }
  if (!batch.empty()) batches.push_back(std::move(batch));
  if (options_.shuffle) Rng(options_.seed, epoch, 0x100000000ULL + static_cast<uint64_t>(window)).shuffle(batches);
  return true;
}

std::vector<std::vector<int64_t>> Batcher::plan(int64_t epoch) const {
  std::vector<std::vector<int64_t>> all;
  std::vector<std::vector<int64_t>> batches;
  int64_t start = 0;
  for (int64_t window = 0; cut_window(epoch, window, start, batches, start); ++window) {
    for (auto& b : batches) all.push_back(std::move(b));
  }
  return all;
}

bool Batcher::load_window() {
  const auto loaded = static_cast<int64_t>(window_batches_.size());
  if (window_epoch_ == position_.epoch && position_.index >= window_first_batch_ &&
      position_.index < window_first_batch_ + loaded) {
    return true;
  }
  // From the loaded window when the wanted batch lies after it, else from the epoch's start.
  int64_t window = 0;
  int64_t start = 0;
  int64_t first = 0;
  if (window_epoch_ == position_.epoch && position_.index >= window_first_batch_ + loaded) {
    window = window_ + 1;
    start = window_end_;
    first = window_first_batch_ + loaded;
  }
  std::vector<std::vector<int64_t>> batches;
  while (true) {
    int64_t end = 0;
    if (!cut_window(position_.epoch, window, start, batches, end)) return false;
    const auto count = static_cast<int64_t>(batches.size());
    if (position_.index < first + count) {
      window_epoch_ = position_.epoch;
      window_ = window;
      window_start_ = start;
      window_end_ = end;
      window_first_batch_ = first;
      window_batches_ = std::move(batches);
      return true;
    }
    first += count;
    start = end;
    ++window;
  }
}

const std::vector<int64_t>& Batcher::next() {
  if (!load_window()) {
    position_ = {position_.epoch + 1, 0};
    if (!load_window()) throw Error("the batcher found no batch in epoch " + std::to_string(position_.epoch + 1));
  }
  batch_ = window_batches_[static_cast<size_t>(position_.index - window_first_batch_)];
  ++position_.index;
  return batch_;
}

double Batcher::epoch_share() const {
  if (window_epoch_ != position_.epoch || window_batches_.empty() || pairs_ == 0) return 0.0;
  const double in_window = static_cast<double>(position_.index - window_first_batch_) /
                           static_cast<double>(window_batches_.size());
  const double pairs = static_cast<double>(window_start_) + in_window * static_cast<double>(window_end_ - window_start_);
  return std::clamp(pairs / static_cast<double>(pairs_), 0.0, 1.0);
}

int64_t Batcher::completed_epochs() { return load_window() ? position_.epoch : position_.epoch + 1; }

void Batcher::seek(BatchPosition position) {
  if (position.epoch < 0 || position.index < 0) {
    throw Error("invalid batch position (epoch " + std::to_string(position.epoch) + ", batch " +
                std::to_string(position.index) + ")");
  }
  position_ = position;
}

}  // namespace tandem::data
