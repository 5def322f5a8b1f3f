#include "tandem/model/encoder.h"

#include <torch/torch.h>

namespace tandem::model {

torch::Tensor word_dropout(const torch::Tensor& embedded, double p, bool training) {
  if (!training || p <= 0.0) return embedded;
  auto shape = embedded.sizes().vec();
  shape.back() = 1;
  const auto keep = torch::empty(shape, embedded.options()).bernoulli_(1.0 - p).div_(1.0 - p);  // [..., 1]
  return embedded * keep;
}

EncoderImpl::EncoderImpl(const ModelOptions& options, torch::nn::Embedding embeddings)
    : embeddings_(std::move(embeddings)),
      dropout_(register_module("dropout", torch::nn::Dropout(options.dropout_emb()))),
      rnn_(register_module("rnn", make_rnn_stack(options.cell(), RnnStackOptions(options.dim_emb(), options.dim_rnn())
                                                                     .layers(options.enc_depth())
                                                                     .bidirectional(options.bidirectional())
                                                                     .dropout(options.dropout_rnn())
                                                                     .layer_norm(options.layer_norm())
                                                                     .transitions(options.enc_cell_depth())))),
      bidirectional_(options.bidirectional()),
      word_dropout_(options.dropout_src()) {}

EncoderOutput EncoderImpl::forward(const torch::Tensor& source, const torch::Tensor& lengths) {
  const auto words = word_dropout(embeddings_->forward(source), word_dropout_, is_training());
  const auto embedded = dropout_->forward(words);  // [B, S, E]
  auto [memory, state] = rnn_->forward(embedded, lengths.to(torch::kCPU), {});  // [B, S, M]
  const auto& h = state.h;  // [layers x dirs, B, H]
  const auto final = bidirectional_ ? torch::cat({h[-2], h[-1]}, /*dim=*/-1) : h[-1];  // [B, M]
  const auto positions = torch::arange(source.size(1), lengths.options()).unsqueeze(0);  // [1, S]
  const auto mask = positions < lengths.unsqueeze(1);                                    // [B, S]
  return {memory, mask, final};
}

}  // namespace tandem::model
