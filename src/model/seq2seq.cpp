#include "tandem/model/seq2seq.h"

#include <torch/torch.h>

#include "tandem/error.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::model {
namespace {

torch::nn::Embedding make_embeddings(int64_t vocab, int64_t dim) {
  torch::nn::Embedding embeddings(torch::nn::EmbeddingOptions(vocab, dim).padding_idx(vocab::kPadId));
  torch::NoGradGuard no_grad;
  embeddings->weight.normal_(0.0, 0.1);
  embeddings->weight[vocab::kPadId].zero_();
  return embeddings;
}

}  // namespace

Seq2SeqImpl::Seq2SeqImpl(const ModelOptions& options) : options_(options) {
  options.validate();
  if (!options.is_language_model()) {
    source_embeddings_ =
        register_module("source_embeddings", make_embeddings(options.source_vocab(), options.dim_emb()));
  }
  target_embeddings_ = options.shared_embeddings()
                           ? source_embeddings_
                           : register_module("target_embeddings",
                                             make_embeddings(options.target_vocab(), options.dim_emb()));
  if (!options.is_language_model()) encoder_ = register_module("encoder", Encoder(options, source_embeddings_));
  decoder_ = register_module("decoder", Decoder(options, target_embeddings_));
}

EncoderOutput Seq2SeqImpl::encode(const torch::Tensor& source, const torch::Tensor& lengths) {
  if (!encoder_) {  // a language model: nothing to encode; the memory only carries B, dtype and device
    EncoderOutput empty;
    empty.memory = torch::zeros({source.size(0), 0, 0}, target_embeddings_->weight.options());  // [B, 0, 0]
    empty.mask = torch::zeros({source.size(0), 0}, torch::dtype(torch::kBool).device(source.device()));  // [B, 0]
    return empty;
  }
  return encoder_->forward(source, lengths);
}

DecoderState Seq2SeqImpl::start(const EncoderOutput& encoded) { return decoder_->start(encoded); }

StepOutput Seq2SeqImpl::step(const torch::Tensor& previous, DecoderState& state) {
  return decoder_->step(previous, state);
}

torch::Tensor Seq2SeqImpl::logits(const torch::Tensor& features) { return decoder_->logits(features); }

torch::Tensor Seq2SeqImpl::logits(const torch::Tensor& features, const torch::Tensor& rows) {
  return decoder_->logits(features, rows);
}

torch::Tensor Seq2SeqImpl::features(const data::Batch& batch) {
  auto state = start(encode(batch.source, batch.source_lengths));
  return decoder_->forward_teacher(batch.target_input, state);  // [B, T, E]
}

torch::Tensor Seq2SeqImpl::stream_features(const torch::Tensor& previous, RecurrentState& state) {
  if (encoder_) throw Error("only a language model (--type lm) reads a continuous stream");
  DecoderState decoder_state;
  if (state.defined()) {
    decoder_state.rnn = state;
  } else {
    decoder_state = start(encode(previous, torch::Tensor()));  // zeros
  }
  auto features = decoder_->forward_teacher(previous, decoder_state);  // [B, T, E]
  state = decoder_state.rnn;
  return features;
}

torch::Tensor Seq2SeqImpl::forward(const data::Batch& batch) { return logits(features(batch)); }

}  // namespace tandem::model
