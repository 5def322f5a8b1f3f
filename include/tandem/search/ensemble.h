// Ensemble: the narrow model interface the search sees (start, step, reorder).
//
// One model is an ensemble of one. Several models must share their target
// vocabulary; their log-probabilities are combined as a weighted sum with the
// weights normalized to sum to 1, then renormalized (log_softmax), so that the
// ensemble's scores are log-probabilities like a single model's. Search (step)
// and forced decoding (forced_log_probs) combine them the same way.
#pragma once

#include <torch/types.h>

#include <vector>

#include "tandem/data/batch.h"
#include "tandem/model/seq2seq.h"

namespace tandem::search {

/// The decoder states of every model for the same rows.
struct EnsembleState {
  std::vector<model::DecoderState> states;
  /// When defined: step()'s output layer covers these target ids only (a
  /// shortlist, int64 [R] on the models' device, each id once), and step()
  /// returns their log-probabilities, column r for id output_rows[r] (the
  /// others' are -inf). forced_log_probs() always uses every piece.
  torch::Tensor output_rows;

  /// Beam reordering that keeps rows inside their sentence (see DecoderState).
  EnsembleState reorder_within_sentences(const torch::Tensor& indices) const;

  /// Keeps sentences `sentences` only (see DecoderState::select_sentences).
  EnsembleState select_sentences(const torch::Tensor& sentences, const torch::Tensor& indices) const;
};

class Ensemble {
 public:
  /// `weights` empty means equal weights; they must be finite and above 0, and
  /// are divided by their sum. Throws tandem::Error otherwise.
  Ensemble(std::vector<model::Seq2Seq> models, std::vector<double> weights);

  /// Encodes a batch. @param source [B, S]; @param lengths [B]
  EnsembleState start(const torch::Tensor& source, const torch::Tensor& lengths);

  /// One step for every row. @param previous [N] @return log-probabilities [N, V]
  /// ([N, R] over state.output_rows when defined) and, in `attention` when given,
  /// the first model's attention weights [N, S].
  torch::Tensor step(const torch::Tensor& previous, EnsembleState& state, torch::Tensor* attention);

  /// Teacher-forced log-probabilities of a batch under the ensemble.
  /// @return [B, T, V] for batch.target_output's positions
  torch::Tensor forced_log_probs(const data::Batch& batch);

  /// The normalized weights, one per model.
  const std::vector<double>& weights() const { return weights_; }

  int64_t target_vocab() const { return models_.front()->options().target_vocab(); }

 private:
  std::vector<model::Seq2Seq> models_;
  std::vector<double> weights_;
};

}  // namespace tandem::search
