// Small random models and reference decoders shared by the search tests
// (beam_search_test.cpp, ensemble_search_test.cpp).
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "tandem/data/batch.h"
#include "tandem/model/seq2seq.h"
#include "tandem/search/ensemble.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::search::test_models {

inline model::Seq2Seq random_model(model::CellType cell, uint64_t seed, bool layer_norm = false, int64_t transitions = 1) {
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

inline const std::vector<std::vector<int32_t>> kSources = {{5, 6, 7, 8}, {9}, {10, 11, 12}, {13, 14, 15, 16, 17, 18}};

// A greedy decoder written here, one sentence at a time, with the search's length rules.
// With `only` (a shortlist): every other piece's logit is -inf before the softmax.
inline std::pair<std::vector<int32_t>, double> reference_greedy(model::Seq2Seq& m, const std::vector<int32_t>& ids,
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

// log P(tokens + eos | source) under the ensemble, by teacher forcing.
inline double forced_score(Ensemble& ensemble, const std::vector<int32_t>& source, const std::vector<int32_t>& tokens) {
  torch::NoGradGuard no_grad;
  const auto batch = data::make_batch({source}, {tokens}, torch::kCPU);
  const auto log_probs = ensemble.forced_log_probs(batch);                                    // [1, T, V]
  return log_probs.gather(-1, batch.target_output.unsqueeze(-1)).sum().item<double>();     // no padding in one row
}

}  // namespace tandem::search::test_models
