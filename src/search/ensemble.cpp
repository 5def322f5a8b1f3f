#include "tandem/search/ensemble.h"

#include <torch/torch.h>

#include "tandem/error.h"

namespace tandem::search {

EnsembleState EnsembleState::reorder_within_sentences(const torch::Tensor& indices) const {
  EnsembleState out;
  out.states.reserve(states.size());
  for (const auto& s : states) out.states.push_back(s.reorder_within_sentences(indices));
  return out;
}

EnsembleState EnsembleState::select_sentences(const torch::Tensor& sentences, const torch::Tensor& indices) const {
  EnsembleState out;
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

torch::Tensor Ensemble::step(const torch::Tensor& previous, EnsembleState& state, torch::Tensor* attention) {
  torch::Tensor combined;
  for (size_t i = 0; i < models_.size(); ++i) {
    const auto out = models_[i]->step(previous, state.states[i]);
    const auto log_probs = torch::log_softmax(models_[i]->logits(out.features), /*dim=*/-1);  // [N, V]
    combined = i == 0 ? log_probs * weights_[i] : combined + log_probs * weights_[i];
    if (i == 0 && attention != nullptr) *attention = out.attention;
  }
  return combined;
}

}  // namespace tandem::search
