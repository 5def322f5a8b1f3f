#include "tandem/search/ensemble.h"

#include <torch/torch.h>

#include <cmath>

#include "tandem/error.h"

namespace tandem::search {

EnsembleState EnsembleState::reorder_within_sentences(const torch::Tensor& indices) const {
  EnsembleState out;
  out.output_rows = output_rows;
  out.states.reserve(states.size());
  for (const auto& s : states) out.states.push_back(s.reorder_within_sentences(indices));
  return out;
}

EnsembleState EnsembleState::select_sentences(const torch::Tensor& sentences, const torch::Tensor& indices) const {
  EnsembleState out;
  out.output_rows = output_rows;
  out.states.reserve(states.size());
  for (const auto& s : states) out.states.push_back(s.select_sentences(sentences, indices));
  return out;
}

Ensemble::Ensemble(std::vector<model::Seq2Seq> models, std::vector<double> weights)
    : models_(std::move(models)), weights_(std::move(weights)) {
  if (models_.empty()) throw Error("no model to translate with");
  if (weights_.empty()) weights_.assign(models_.size(), 1.0);
  if (weights_.size() != models_.size()) {
    throw Error("--weights gives " + std::to_string(weights_.size()) + " weights for " +
                std::to_string(models_.size()) + " models");
  }
  double sum = 0.0;
  for (const double w : weights_) {
    if (!std::isfinite(w) || w <= 0.0) {
      throw Error("--weights must be finite and above 0, got " + std::to_string(w));
    }
    sum += w;
  }
  for (double& w : weights_) w /= sum;
  for (const auto& m : models_) {
    if (m->options().target_vocab() != target_vocab()) {
      throw Error("the ensemble's models have different target vocabularies (" + std::to_string(target_vocab()) +
                  " and " + std::to_string(m->options().target_vocab()) + " pieces)");
    }
  }
}

EnsembleState Ensemble::start(const torch::Tensor& source, const torch::Tensor& lengths) {
  EnsembleState state;
  for (auto& m : models_) state.states.push_back(m->start(m->encode(source, lengths)));
  return state;
}

namespace {

// Σ w_i log p_i, renormalized over the last dimension; one model is returned as it is.
torch::Tensor combine(const std::vector<torch::Tensor>& log_probs, const std::vector<double>& weights) {
  if (log_probs.size() == 1) return log_probs.front();
  torch::Tensor sum = log_probs[0] * weights[0];
  for (size_t i = 1; i < log_probs.size(); ++i) sum = sum + log_probs[i] * weights[i];
  return torch::log_softmax(sum, /*dim=*/-1);
}

}  // namespace

torch::Tensor Ensemble::step(const torch::Tensor& previous, EnsembleState& state, torch::Tensor* attention) {
  std::vector<torch::Tensor> log_probs;
  log_probs.reserve(models_.size());
  for (size_t i = 0; i < models_.size(); ++i) {
    const auto out = models_[i]->step(previous, state.states[i]);
    if (state.output_rows.defined()) {  // the shortlist's columns only: never the whole vocabulary's
      log_probs.push_back(
          torch::log_softmax(models_[i]->logits(out.features, state.output_rows).to(torch::kFloat32), -1));  // [N, R]
    } else {
      log_probs.push_back(torch::log_softmax(models_[i]->logits(out.features).to(torch::kFloat32), /*dim=*/-1));  // [N, V]
    }
    if (i == 0 && attention != nullptr) *attention = out.attention.to(torch::kFloat32);
  }
  return combine(log_probs, weights_);
}

torch::Tensor Ensemble::forced_log_probs(const data::Batch& batch) {
  std::vector<torch::Tensor> log_probs;
  log_probs.reserve(models_.size());
  for (auto& m : models_) {
    log_probs.push_back(torch::log_softmax(m->forward(batch).to(torch::kFloat32), /*dim=*/-1));  // [B, T, V]
  }
  return combine(log_probs, weights_);
}

}  // namespace tandem::search
