#include "tandem/data/batcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "tandem/error.h"

namespace tandem::data {
namespace {

struct Lengths {
  std::vector<int64_t> source;
  std::vector<int64_t> target;
};

Lengths random_lengths(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  Lengths l;
  for (int i = 0; i < n; ++i) {
    l.source.push_back(1 + static_cast<int64_t>(rng() % 60));
    l.target.push_back(1 + static_cast<int64_t>(rng() % 60));
  }
  return l;
}

void expect_each_index_once(const std::vector<std::vector<int64_t>>& plan, int64_t n) {
  std::vector<int64_t> seen;
  for (const auto& b : plan) seen.insert(seen.end(), b.begin(), b.end());
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(static_cast<int64_t>(seen.size()), n);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], i);
}

TEST(BatcherTest, EveryPairOncePerEpochWithinTheBudgets) {
  const auto l = random_lengths(1000, 1);
  for (const auto& [sentences, tokens] : {std::pair<int64_t, int64_t>{32, 0}, {0, 600}, {16, 400}}) {
    BatchOptions options;
    options.max_sentences = sentences;
    options.max_tokens = tokens;
    options.window = 10;
    const Batcher batcher(l.source, l.target, options);
    const auto plan = batcher.plan(3);
    expect_each_index_once(plan, 1000);
    for (const auto& b : plan) {
      if (sentences > 0) {
        EXPECT_LE(static_cast<int64_t>(b.size()), sentences);
      }
      if (tokens > 0) {
        int64_t longest = 0;
        for (const int64_t i : b) longest = std::max({longest, l.source[i] + 1, l.target[i] + 1});
        EXPECT_LE(static_cast<int64_t>(b.size()) * longest, tokens);
      }
    }
  }
}

TEST(BatcherTest, DeterministicPerSeedAndEpoch) {
  const auto l = random_lengths(500, 2);
  BatchOptions options;
  options.max_sentences = 20;
  const Batcher a(l.source, l.target, options);
  const Batcher b(l.source, l.target, options);
  EXPECT_EQ(a.plan(0), b.plan(0));
  EXPECT_NE(a.plan(0), a.plan(1));
  options.seed = 99;
  EXPECT_NE(Batcher(l.source, l.target, options).plan(0), a.plan(0));
}

TEST(BatcherTest, BucketingKeepsSimilarLengthsTogether) {
  const auto l = random_lengths(2000, 3);
  BatchOptions options;
  options.max_sentences = 32;
  const auto spread = [&](const std::vector<std::vector<int64_t>>& plan) {
    double total = 0;
    for (const auto& b : plan) {
      int64_t lo = 1000;
      int64_t hi = 0;
      for (const int64_t i : b) {
        const int64_t c = std::max(l.source[i], l.target[i]);
        lo = std::min(lo, c);
        hi = std::max(hi, c);
      }
      total += static_cast<double>(hi - lo);
    }
    return total / static_cast<double>(plan.size());
  };
  options.window = 50;
  const double bucketed = spread(Batcher(l.source, l.target, options).plan(0));
  options.window = 1;
  const double unbucketed = spread(Batcher(l.source, l.target, options).plan(0));
  EXPECT_LT(bucketed * 5, unbucketed);
}

TEST(BatcherTest, ResumingFromAPositionGivesTheSameBatches) {
  const auto l = random_lengths(300, 4);
  BatchOptions options;
  options.max_sentences = 25;
  Batcher full(l.source, l.target, options);
  std::vector<std::vector<int64_t>> expected;
  BatchPosition saved;
  for (int step = 0; step < 40; ++step) {  // crosses epoch boundaries (12 batches an epoch)
    if (step == 17) saved = full.position();
    expected.push_back(full.next());
  }
  EXPECT_GE(full.position().epoch, 2);
  Batcher resumed(l.source, l.target, options);
  resumed.seek(saved);
  for (int step = 17; step < 40; ++step) EXPECT_EQ(resumed.next(), expected[static_cast<size_t>(step)]);
}

TEST(BatcherTest, APairOverTheTokenBudgetGetsABatchOfItsOwn) {
  const std::vector<int64_t> source = {5, 500, 6, 7};
  const std::vector<int64_t> target = {5, 400, 6, 7};
  BatchOptions options;
  options.max_sentences = 0;
  options.max_tokens = 100;
  const auto plan = Batcher(source, target, options).plan(0);
  expect_each_index_once(plan, 4);
  bool alone = false;
  for (const auto& b : plan) alone = alone || (b.size() == 1 && b[0] == 1);
  EXPECT_TRUE(alone);
}

TEST(BatcherTest, WithoutShuffleAndBucketingKeepsCorpusOrder) {
  const std::vector<int64_t> lengths = {3, 9, 1, 4, 7};
  BatchOptions options;
  options.max_sentences = 2;
  options.window = 1;
  options.shuffle = false;
  const auto plan = Batcher(lengths, lengths, options).plan(0);
  EXPECT_EQ(plan, (std::vector<std::vector<int64_t>>{{0, 1}, {2, 3}, {4}}));
}

TEST(BatcherTest, RejectsUnusableSettings) {
  const std::vector<int64_t> one = {1};
  BatchOptions none;
  none.max_sentences = 0;
  EXPECT_THROW(Batcher(one, one, none), Error);
  EXPECT_THROW(Batcher({}, {}, BatchOptions{}), Error);
  EXPECT_THROW(Batcher(one, {1, 2}, BatchOptions{}), Error);
}

}  // namespace
}  // namespace tandem::data

namespace tandem::data {
namespace {

TEST(BatcherTest, EveryCorpusSizeIsPermutedWholeAndTheStreamMatchesThePlan) {
  for (const int n : {1, 2, 3, 5, 17, 1000, 4097}) {
    const auto l = random_lengths(n, static_cast<uint32_t>(n));
    BatchOptions options;
    options.max_sentences = 8;
    options.window = 3;
    Batcher batcher(l.source, l.target, options);
    for (int64_t epoch = 0; epoch < 2; ++epoch) {
      const auto plan = batcher.plan(epoch);
      expect_each_index_once(plan, n);
      // next() walks the same batches, then moves on to the next epoch.
      for (const auto& batch : plan) EXPECT_EQ(batcher.next(), batch) << "n = " << n;
      EXPECT_EQ(batcher.completed_epochs(), epoch + 1);
    }
  }
}

TEST(BatcherTest, LengthsLookedUpEqualLengthsGiven) {
  const auto l = random_lengths(500, 9);
  BatchOptions options;
  options.max_tokens = 300;
  options.max_sentences = 0;
  options.window = 5;
  const Batcher given(l.source, l.target, options);
  const Batcher looked_up(
      500, [&](int64_t i) { return l.source[static_cast<size_t>(i)]; },
      [&](int64_t i) { return l.target[static_cast<size_t>(i)]; }, options);
  EXPECT_EQ(given.plan(0), looked_up.plan(0));
  EXPECT_EQ(given.plan(3), looked_up.plan(3));
  EXPECT_NE(given.plan(0), given.plan(1));  // each epoch its own order
}

TEST(BatcherTest, EpochShareRisesThroughTheEpochAndStartsAgain) {
  const auto l = random_lengths(1000, 3);
  BatchOptions options;
  options.max_sentences = 10;
  options.window = 5;
  Batcher batcher(l.source, l.target, options);
  const auto batches = static_cast<int64_t>(batcher.plan(0).size());
  double last = -1.0;
  for (int64_t k = 0; k < batches; ++k) {
    batcher.next();
    const double share = batcher.epoch_share();
    EXPECT_GE(share, last) << k;
    EXPECT_NEAR(share, static_cast<double>(k + 1) / static_cast<double>(batches), 0.06) << k;
    last = share;
  }
  batcher.next();  // the first batch of epoch 2
  EXPECT_EQ(batcher.position().epoch, 1);
  EXPECT_LT(batcher.epoch_share(), 0.05);
}

}  // namespace
}  // namespace tandem::data
