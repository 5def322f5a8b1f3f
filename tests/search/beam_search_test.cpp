#include "tandem/search/beam_search.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "search/search_test_models.h"
#include "tandem/data/batch.h"
#include "tandem/error.h"
#include "tandem/vocab/special_ids.h"
#include "test_support.h"

namespace tandem::search {
namespace {

using namespace test_models;

// A cell: plain (0), with layer normalization (1), or layer normalization, the
// conditional decoder of 2 transitions and 2 encoder cells a step (2).
class BeamSearchTest : public ::testing::TestWithParam<std::tuple<model::CellType, int>> {
 protected:
  model::Seq2Seq model(uint64_t seed) const {
    const int variant = std::get<1>(GetParam());
    return random_model(std::get<0>(GetParam()), seed, variant >= 1, variant == 2 ? 2 : 1);
  }
};

TEST_P(BeamSearchTest, BeamOneEqualsAReferenceGreedyDecoder) {
  auto m = model(21);
  Ensemble ensemble({m}, {});
  SearchOptions options;
  options.beam_size = 1;
  const auto [source, lengths] = data::make_source_batch(kSources);
  const auto results = beam_search(ensemble, source, lengths, options);
  for (size_t i = 0; i < kSources.size(); ++i) {
    const auto [tokens, score] = reference_greedy(m, kSources[i], options.max_length_factor);
    ASSERT_EQ(results[i].size(), 1u);
    EXPECT_EQ(results[i][0].tokens, tokens) << "sentence " << i;
    EXPECT_NEAR(results[i][0].score, score, 1e-4);
  }
}

// What beam search guarantees: K distinct hypotheses sorted by ranking, each
// scored exactly as teacher forcing scores its tokens (so the score is the
// model's log-probability), within the length rules.
TEST_P(BeamSearchTest, NBestIsDistinctSortedAndScoredAsForcedDecoding) {
  auto m = model(22);
  Ensemble ensemble({m}, {});
  const auto [source, lengths] = data::make_source_batch(kSources);
  SearchOptions beam;
  beam.beam_size = 4;
  const auto b = beam_search(ensemble, source, lengths, beam);
  for (size_t i = 0; i < kSources.size(); ++i) {
    ASSERT_EQ(b[i].size(), 4u);
    for (size_t k = 1; k < b[i].size(); ++k) EXPECT_GE(b[i][k - 1].ranking, b[i][k].ranking);
    for (size_t k = 0; k < b[i].size(); ++k) {
      const auto& h = b[i][k];
      for (size_t j = 0; j < k; ++j) EXPECT_NE(b[i][j].tokens, h.tokens) << "sentence " << i;
      EXPECT_NEAR(h.score, forced_score(ensemble, kSources[i], h.tokens), 1e-4) << "sentence " << i;
      EXPECT_FALSE(h.tokens.empty());  // eos is not allowed first
      EXPECT_LE(static_cast<double>(h.tokens.size() + 1), 2.0 * static_cast<double>(kSources[i].size() + 1));
    }
  }
}

// With a beam as wide as the vocabulary and a limit of two tokens (one and
// eos), the search is exhaustive: its best is the best single token.
TEST_P(BeamSearchTest, AWideEnoughBeamFindsTheExactBest) {
  auto m = model(29);
  Ensemble ensemble({m}, {});
  const std::vector<std::vector<int32_t>> one_token = {{5}};  // length 2 with eos: limit floor(1 x 2) = 2
  const auto [source, lengths] = data::make_source_batch(one_token);
  SearchOptions options;
  options.beam_size = 40;
  options.max_length_factor = 1.0;
  const auto best = beam_search(ensemble, source, lengths, options)[0][0];
  ASSERT_EQ(best.tokens.size(), 1u);
  double exact = -std::numeric_limits<double>::infinity();
  for (int32_t token = 4; token < 40; ++token) exact = std::max(exact, forced_score(ensemble, {5}, {token}));
  EXPECT_NEAR(best.score, exact, 1e-5);
}

TEST_P(BeamSearchTest, ResultsDoNotDependOnTheBatch) {
  auto m = model(23);
  Ensemble ensemble({m}, {});
  SearchOptions options;
  options.beam_size = 3;
  const auto [source, lengths] = data::make_source_batch(kSources);
  const auto together = beam_search(ensemble, source, lengths, options);
  for (size_t i = 0; i < kSources.size(); ++i) {
    const auto [one, one_length] = data::make_source_batch({kSources[i]});
    const auto alone = beam_search(ensemble, one, one_length, options);
    ASSERT_EQ(alone[0].size(), together[i].size());
    for (size_t k = 0; k < alone[0].size(); ++k) EXPECT_EQ(alone[0][k].tokens, together[i][k].tokens);
  }
}

INSTANTIATE_TEST_SUITE_P(Cells, BeamSearchTest,
                         ::testing::Combine(::testing::Values(model::CellType::kRnn, model::CellType::kGru,
                                                              model::CellType::kLstm),
                                            ::testing::Values(0, 1, 2)),
                         [](const auto& info) {
                           const int variant = std::get<1>(info.param);
                           return model::cell_type_name(std::get<0>(info.param)) +
                                  (variant == 1 ? "_ln" : variant == 2 ? "_ln_conditional" : "");
                         });

// A model whose output bias makes pad, bos and unk the likeliest pieces.
model::Seq2Seq model_that_favours_special_pieces() {
  auto m = random_model(model::CellType::kGru, 30);
  torch::NoGradGuard no_grad;
  auto bias = m->named_parameters()["decoder.output_bias"];
  for (const int32_t id : {vocab::kPadId, vocab::kBosId, vocab::kUnkId}) bias[id] = 20.0;
  return m;
}

TEST(BeamSearchTest, PadBosAndUnkAreNeverOutputUnlessUnkIsAllowed) {
  auto m = model_that_favours_special_pieces();
  Ensemble ensemble({m}, {});
  const auto [source, lengths] = data::make_source_batch(kSources);
  const auto contains = [](const std::vector<Hypothesis>& hyps, int32_t id) {
    for (const auto& h : hyps) {
      if (std::find(h.tokens.begin(), h.tokens.end(), id) != h.tokens.end()) return true;
    }
    return false;
  };
  for (const auto sampling : {Sampling::kNone, Sampling::kFull}) {
    for (const int64_t beam : {1, 4}) {
      SearchOptions options;
      options.beam_size = beam;
      options.sampling = sampling;
      const auto results = beam_search(ensemble, source, lengths, options);
      for (size_t i = 0; i < results.size(); ++i) {
        ASSERT_FALSE(results[i].empty());
        for (const int32_t id : {vocab::kPadId, vocab::kBosId, vocab::kUnkId}) EXPECT_FALSE(contains(results[i], id)) << id;
        // Masking does not renormalize: scores are still the model's log-probabilities.
        for (const auto& h : results[i]) EXPECT_NEAR(h.score, forced_score(ensemble, kSources[i], h.tokens), 1e-4);
      }
      options.allow_unk = true;
      bool unk = false;
      for (const auto& hyps : beam_search(ensemble, source, lengths, options)) {
        EXPECT_FALSE(contains(hyps, vocab::kPadId));
        EXPECT_FALSE(contains(hyps, vocab::kBosId));
        unk = unk || contains(hyps, vocab::kUnkId);
      }
      EXPECT_TRUE(unk) << "with --allow-unk the favoured unk is chosen";
    }
  }
}

TEST(BeamSearchTest, EachSentenceSamplesFromItsOwnStream) {
  auto m = random_model(model::CellType::kLstm, 31);
  Ensemble ensemble({m}, {});
  SearchOptions options;
  options.beam_size = 2;
  options.sampling = Sampling::kFull;
  options.seed = 9;
  const std::vector<int64_t> ids = {100, 101, 102, 103};
  const auto [source, lengths] = data::make_source_batch(kSources);
  const auto together = beam_search(ensemble, source, lengths, options, ids);
  for (size_t i = 0; i < kSources.size(); ++i) {
    const auto [one, one_length] = data::make_source_batch({kSources[i]});
    const auto alone = beam_search(ensemble, one, one_length, options, {ids[i]});
    ASSERT_EQ(alone[0].size(), together[i].size());
    for (size_t k = 0; k < alone[0].size(); ++k) EXPECT_EQ(alone[0][k].tokens, together[i][k].tokens) << i;
  }
  // The same sentence under two ids draws two samples; the stream is not shared.
  const std::vector<std::vector<int32_t>> same = {kSources[3], kSources[3], kSources[3], kSources[3]};
  const auto [s4, l4] = data::make_source_batch(same);
  const auto four = beam_search(ensemble, s4, l4, options, ids);
  bool differs = false;
  for (size_t i = 1; i < four.size(); ++i) differs = differs || four[i][0].tokens != four[0][0].tokens;
  EXPECT_TRUE(differs);
  EXPECT_NE(sentence_seed(9, 0), sentence_seed(9, 1));
  EXPECT_NE(sentence_seed(9, 0), sentence_seed(10, 0));
}

TEST(BeamSearchTest, NormalizationAndWordPenaltyRankFinishedHypotheses) {
  auto m = random_model(model::CellType::kGru, 24);
  Ensemble ensemble({m}, {});
  const auto [source, lengths] = data::make_source_batch(kSources);
  SearchOptions options;
  options.beam_size = 4;
  options.normalize = 0.6;
  options.word_penalty = 0.1;
  for (const auto& hyps : beam_search(ensemble, source, lengths, options)) {
    for (const auto& h : hyps) {
      const double length = static_cast<double>(h.tokens.size() + 1);
      EXPECT_NEAR(h.ranking, h.score / std::pow(length, 0.6) - 0.1 * length, 1e-9);
    }
  }
}

TEST(BeamSearchTest, SamplingIsReproducibleAndColdSamplingIsGreedy) {
  auto m = random_model(model::CellType::kLstm, 25);
  Ensemble ensemble({m}, {});
  const auto [source, lengths] = data::make_source_batch(kSources);
  SearchOptions sample;
  sample.beam_size = 1;
  sample.sampling = Sampling::kFull;
  sample.seed = 5;
  const auto a = beam_search(ensemble, source, lengths, sample);
  const auto b = beam_search(ensemble, source, lengths, sample);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i][0].tokens, b[i][0].tokens);
  sample.seed = 6;
  const auto c = beam_search(ensemble, source, lengths, sample);
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) differs = differs || a[i][0].tokens != c[i][0].tokens;
  EXPECT_TRUE(differs);  // another seed, other samples (a random 40-word model is far from peaked)
  // Cold sampling: this random model's best pieces are often within 1e-4 of
  // each other, so a large random output bias makes it decisive first.
  {
    torch::NoGradGuard no_grad;
    auto bias = m->named_parameters()["decoder.output_bias"];
    bias.copy_(torch::randn_like(bias) * 50.0);
  }
  sample.temperature = 1e-4;
  sample.sampling = Sampling::kTopK;
  sample.top_k = 5;
  SearchOptions greedy;
  greedy.beam_size = 1;
  const auto cold = beam_search(ensemble, source, lengths, sample);
  const auto g = beam_search(ensemble, source, lengths, greedy);
  for (size_t i = 0; i < g.size(); ++i) EXPECT_EQ(cold[i][0].tokens, g[i][0].tokens);
}

TEST(BeamSearchTest, KeepsOneAttentionRowPerOutputToken) {
  auto m = random_model(model::CellType::kGru, 27);
  Ensemble ensemble({m}, {});
  SearchOptions options;
  options.beam_size = 2;
  options.keep_attention = true;
  const auto [source, lengths] = data::make_source_batch(kSources);
  const auto results = beam_search(ensemble, source, lengths, options);
  for (size_t i = 0; i < results.size(); ++i) {
    for (const auto& h : results[i]) {
      ASSERT_EQ(h.attention.size(), h.tokens.size() + 1);  // eos included
      float sum = 0;
      for (const float w : h.attention[0]) sum += w;
      EXPECT_NEAR(sum, 1.0f, 1e-4);
    }
  }
}

// Sentences whose beams are all finished leave the batch while the others go on
// (kSources' length limits differ), and the beams of a sentence share one copy
// of its encoder states: neither may change a sentence's hypotheses, their
// scores or their attention, for each kind of attention.
TEST(BeamSearchTest, SentencesLeavingTheBatchChangeNothing) {
  for (const auto type : {model::AttentionType::kBahdanau, model::AttentionType::kLuongGeneral,
                          model::AttentionType::kLuongDot}) {
    torch::manual_seed(28);
    model::Seq2Seq m(model::ModelOptions(40, 40)
                         .dim_emb(8)
                         .dim_rnn(12)
                         .attention(type)
                         .bidirectional(type != model::AttentionType::kLuongDot)  // dot needs equal widths
                         .dropout_emb(0)
                         .dropout_rnn(0)
                         .dropout_out(0));
    m->eval();
    Ensemble ensemble({m}, {});
    SearchOptions options;
    options.beam_size = 3;
    options.keep_attention = true;
    const auto [source, lengths] = data::make_source_batch(kSources);
    const auto together = beam_search(ensemble, source, lengths, options);
    for (size_t i = 0; i < kSources.size(); ++i) {
      const auto [one, one_length] = data::make_source_batch({kSources[i]});
      const auto alone = beam_search(ensemble, one, one_length, options);
      ASSERT_EQ(alone[0].size(), together[i].size());
      for (size_t k = 0; k < alone[0].size(); ++k) {
        const auto& x = alone[0][k];
        const auto& y = together[i][k];
        EXPECT_EQ(x.tokens, y.tokens) << "sentence " << i;
        EXPECT_NEAR(x.score, y.score, 1e-4);
        ASSERT_EQ(x.attention.size(), y.attention.size());
        for (size_t j = 0; j < x.attention.size(); ++j) {
          for (size_t s = 0; s < x.attention[j].size(); ++s) EXPECT_NEAR(x.attention[j][s], y.attention[j][s], 1e-5);
          for (size_t s = x.attention[j].size(); s < y.attention[j].size(); ++s) EXPECT_EQ(y.attention[j][s], 0.0f);
        }
      }
    }
  }
}

}  // namespace
}  // namespace tandem::search
