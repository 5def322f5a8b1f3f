#include "tandem/search/beam_search.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "tandem/data/batch.h"
#include "tandem/error.h"
#include "tandem/vocab/special_ids.h"
#include "test_support.h"

namespace tandem::search {
namespace {

model::Seq2Seq random_model(model::CellType cell, uint64_t seed, bool layer_norm = false, int64_t transitions = 1) {
  torch::manual_seed(seed);
  model::Seq2Seq m(model::ModelOptions(40, 40)
                       .dim_emb(8)
                       .dim_rnn(12)
                       .cell(cell)
                       .layer_norm(layer_norm)
                       .dec_cell_base_depth(transitions)
                       .enc_cell_depth(transitions)
                       .dropout_emb(0)
                       .dropout_rnn(0)
                       .dropout_out(0));
  m->eval();
  return m;
}

const std::vector<std::vector<int32_t>> kSources = {{5, 6, 7, 8}, {9}, {10, 11, 12}, {13, 14, 15, 16, 17, 18}};

// A greedy decoder written here, one sentence at a time, with the search's length rules.
// With `only` (a shortlist): every other piece's logit is -inf before the softmax.
std::pair<std::vector<int32_t>, double> reference_greedy(model::Seq2Seq& m, const std::vector<int32_t>& ids,
                                                         double factor, const std::vector<int64_t>& only = {}) {
  torch::NoGradGuard no_grad;
  const auto [source, lengths] = data::make_source_batch({ids});
  auto state = m->start(m->encode(source, lengths));
  const auto limit = std::max<int64_t>(2, static_cast<int64_t>(std::floor(factor * static_cast<double>(ids.size() + 1))));
  auto previous = torch::full({1}, vocab::kBosId, torch::kInt64);
  std::vector<int32_t> out;
  double score = 0;
  for (int64_t t = 0;; ++t) {
    auto logits = m->logits(m->step(previous, state).features)[0];  // [V]
    if (!only.empty()) {
      auto masked = torch::full_like(logits, -std::numeric_limits<float>::infinity());
      const auto rows = torch::tensor(only, torch::kInt64);
      logits = masked.index_copy_(0, rows, logits.index_select(0, rows));
    }
    auto log_probs = torch::log_softmax(logits, -1);  // [V]
    int64_t token = 0;
    if (t + 1 >= limit) {
      token = vocab::kEosId;
    } else {
      if (t == 0) log_probs[vocab::kEosId] = -std::numeric_limits<float>::infinity();
      auto allowed = log_probs.clone();  // pad, bos and unk are never chosen
      for (const int32_t id : {vocab::kPadId, vocab::kBosId, vocab::kUnkId}) {
        allowed[id] = -std::numeric_limits<float>::infinity();
      }
      token = allowed.argmax().item<int64_t>();
    }
    score += log_probs[token].item<double>();
    if (token == vocab::kEosId) break;
    out.push_back(static_cast<int32_t>(token));
    previous = torch::full({1}, token, torch::kInt64);
  }
  return {out, score};
}

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

// log P(tokens + eos | source) under the ensemble, by teacher forcing.
double forced_score(Ensemble& ensemble, const std::vector<int32_t>& source, const std::vector<int32_t>& tokens) {
  torch::NoGradGuard no_grad;
  const auto batch = data::make_batch({source}, {tokens}, torch::kCPU);
  const auto log_probs = ensemble.forced_log_probs(batch);                                    // [1, T, V]
  return log_probs.gather(-1, batch.target_output.unsqueeze(-1)).sum().item<double>();     // no padding in one row
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
