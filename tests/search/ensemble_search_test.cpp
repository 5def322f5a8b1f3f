// Ensembles in the search: several models' log-probabilities combined, and the
// shortlist's columns (the ensemble's step over a subset of the vocabulary).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <vector>

#include "search/search_test_models.h"
#include "tandem/data/batch.h"
#include "tandem/error.h"
#include "tandem/search/beam_search.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::search {
namespace {

using namespace test_models;

TEST(BeamSearchTest, AnEnsembleOfOneModelTwiceSearchesAsTheModel) {
  auto m = random_model(model::CellType::kGru, 26);
  Ensemble single({m}, {});
  Ensemble twice({m, m}, {0.5, 0.5});
  SearchOptions options;
  options.beam_size = 3;
  const auto [source, lengths] = data::make_source_batch(kSources);
  const auto a = beam_search(single, source, lengths, options);
  const auto b = beam_search(twice, source, lengths, options);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i][0].tokens, b[i][0].tokens);
    EXPECT_NEAR(a[i][0].score, b[i][0].score, 1e-4);
  }
  EXPECT_THROW(Ensemble({m}, {1.0, 2.0}), Error);
}

TEST(BeamSearchTest, EnsembleWeightsAreNormalizedAndScoresStayLogProbabilities) {
  auto a = random_model(model::CellType::kGru, 32);
  auto b = random_model(model::CellType::kLstm, 33);
  Ensemble equal({a, b}, {});
  Ensemble doubled({a, b}, {2.0, 2.0});
  EXPECT_EQ(doubled.weights(), (std::vector<double>{0.5, 0.5}));
  Ensemble skewed({a, b}, {3.0, 1.0});
  EXPECT_EQ(skewed.weights(), (std::vector<double>{0.75, 0.25}));
  EXPECT_THROW(Ensemble({a, b}, {1.0, -1.0}), Error);
  EXPECT_THROW(Ensemble({a, b}, {0.0, 0.0}), Error);
  const auto [source, lengths] = data::make_source_batch(kSources);
  auto state = equal.start(source, lengths);
  const auto log_probs = equal.step(torch::full({4}, vocab::kBosId, torch::kInt64), state, nullptr);  // [4, V]
  EXPECT_TRUE(torch::allclose(log_probs.exp().sum(-1), torch::ones({4}), 1e-5, 1e-5));
  SearchOptions options;
  options.beam_size = 3;
  const auto x = beam_search(equal, source, lengths, options);
  const auto y = beam_search(doubled, source, lengths, options);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i][0].tokens, y[i][0].tokens);
    EXPECT_NEAR(x[i][0].score, y[i][0].score, 1e-5);
    for (const auto& h : x[i]) EXPECT_NEAR(h.score, forced_score(equal, kSources[i], h.tokens), 1e-4);
  }
}

// A shortlist's search runs over its columns only (never the whole vocabulary);
// it equals a search whose other pieces have logit -inf, whatever the order of
// the shortlist's ids, and gives the whole vocabulary's search when it lists
// every piece.
TEST(BeamSearchTest, AShortlistSearchesItsColumnsInAnyOrder) {
  auto m = random_model(model::CellType::kGru, 41);
  Ensemble ensemble({m}, {});
  const auto [source, lengths] = data::make_source_batch(kSources);
  std::vector<int64_t> whole(40);
  for (int64_t id = 0; id < 40; ++id) whole[static_cast<size_t>(id)] = (id * 7 + 3) % 40;  // every id, shuffled
  SearchOptions options;
  options.beam_size = 4;
  const auto full = beam_search(ensemble, source, lengths, options);
  options.output_rows = torch::tensor(whole, torch::kInt64);
  const auto listed = beam_search(ensemble, source, lengths, options);
  ASSERT_EQ(full.size(), listed.size());
  for (size_t i = 0; i < full.size(); ++i) {
    ASSERT_EQ(full[i].size(), listed[i].size()) << "sentence " << i;
    for (size_t k = 0; k < full[i].size(); ++k) {
      EXPECT_EQ(full[i][k].tokens, listed[i][k].tokens) << "sentence " << i;
      EXPECT_NEAR(full[i][k].score, listed[i][k].score, 1e-4);
    }
  }
  // Half of the pieces (the special ones among them), in a shuffled order.
  std::vector<int64_t> half{vocab::kEosId, 31, vocab::kPadId, 11, 25, vocab::kUnkId, 7, vocab::kBosId};
  for (int64_t id = 12; id < 40; id += 2) half.push_back(id);
  options.beam_size = 1;
  options.output_rows = torch::tensor(half, torch::kInt64);
  const auto short_greedy = beam_search(ensemble, source, lengths, options);
  for (size_t i = 0; i < kSources.size(); ++i) {
    const auto [tokens, score] = reference_greedy(m, kSources[i], options.max_length_factor, half);
    ASSERT_FALSE(short_greedy[i].empty());
    EXPECT_EQ(short_greedy[i][0].tokens, tokens) << "sentence " << i;
    EXPECT_NEAR(short_greedy[i][0].score, score, 1e-4) << "sentence " << i;
    for (const int32_t id : short_greedy[i][0].tokens) {
      EXPECT_NE(std::find(half.begin(), half.end(), id), half.end()) << id << " is not in the shortlist";
    }
  }
  options.output_rows = torch::tensor(std::vector<int64_t>{vocab::kEosId, 5, 5}, torch::kInt64);
  EXPECT_THROW(beam_search(ensemble, source, lengths, options), Error);  // an id twice
  options.output_rows = torch::tensor(std::vector<int64_t>{vocab::kEosId, 40}, torch::kInt64);
  EXPECT_THROW(beam_search(ensemble, source, lengths, options), Error);  // outside the vocabulary
}

}  // namespace
}  // namespace tandem::search
