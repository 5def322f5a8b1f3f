#include "tandem/search/beam_search.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "tandem/data/batch.h"
#include "tandem/error.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::search {
namespace {

model::Seq2Seq random_model(model::CellType cell, uint64_t seed) {
  torch::manual_seed(seed);
  model::Seq2Seq m(model::ModelOptions(40, 40).dim_emb(8).dim_rnn(12).cell(cell).dropout_emb(0).dropout_rnn(0).dropout_out(0));
  m->eval();
  return m;
}

const std::vector<std::vector<int32_t>> kSources = {{5, 6, 7, 8}, {9}, {10, 11, 12}, {13, 14, 15, 16, 17, 18}};

// A greedy decoder written here, one sentence at a time, with the search's length rules.
std::pair<std::vector<int32_t>, double> reference_greedy(model::Seq2Seq& m, const std::vector<int32_t>& ids,
                                                         double factor) {
  torch::NoGradGuard no_grad;
  const auto [source, lengths] = data::make_source_batch({ids});
  auto state = m->start(m->encode(source, lengths));
  const auto limit = std::max<int64_t>(2, static_cast<int64_t>(std::floor(factor * static_cast<double>(ids.size() + 1))));
  auto previous = torch::full({1}, vocab::kBosId, torch::kInt64);
  std::vector<int32_t> out;
  double score = 0;
  for (int64_t t = 0;; ++t) {
    auto log_probs = torch::log_softmax(m->logits(m->step(previous, state).features), -1)[0];  // [V]
    int64_t token = 0;
    if (t + 1 >= limit) {
      token = vocab::kEosId;
    } else {
      if (t == 0) log_probs[vocab::kEosId] = -std::numeric_limits<float>::infinity();
      token = log_probs.argmax().item<int64_t>();
    }
    score += log_probs[token].item<double>();
    if (token == vocab::kEosId) break;
    out.push_back(static_cast<int32_t>(token));
    previous = torch::full({1}, token, torch::kInt64);
  }
  return {out, score};
}

class BeamSearchTest : public ::testing::TestWithParam<model::CellType> {};

TEST_P(BeamSearchTest, BeamOneEqualsAReferenceGreedyDecoder) {
  auto m = random_model(GetParam(), 21);
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

TEST_P(BeamSearchTest, BeamNeverLosesToGreedyAndNBestIsSorted) {
  auto m = random_model(GetParam(), 22);
  Ensemble ensemble({m}, {});
  const auto [source, lengths] = data::make_source_batch(kSources);
  SearchOptions greedy;
  greedy.beam_size = 1;
  SearchOptions beam;
  beam.beam_size = 4;
  const auto g = beam_search(ensemble, source, lengths, greedy);
  const auto b = beam_search(ensemble, source, lengths, beam);
  for (size_t i = 0; i < kSources.size(); ++i) {
    ASSERT_EQ(b[i].size(), 4u);
    EXPECT_GE(b[i][0].score, g[i][0].score - 1e-5) << "sentence " << i;
    for (size_t k = 1; k < b[i].size(); ++k) EXPECT_GE(b[i][k - 1].ranking, b[i][k].ranking);
    for (const auto& h : b[i]) {
      EXPECT_FALSE(h.tokens.empty());  // eos is not allowed first
      EXPECT_LE(static_cast<double>(h.tokens.size() + 1), 2.0 * static_cast<double>(kSources[i].size() + 1));
    }
  }
}

TEST_P(BeamSearchTest, ResultsDoNotDependOnTheBatch) {
  auto m = random_model(GetParam(), 23);
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
                         ::testing::Values(model::CellType::kRnn, model::CellType::kGru, model::CellType::kLstm));

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
