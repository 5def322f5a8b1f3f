// Encoder: source embeddings -> a stack of recurrent layers (optionally bidirectional).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

#include <memory>

#include "tandem/model/model_options.h"
#include "tandem/model/rnn_stack.h"

namespace tandem::model {

struct EncoderOutput {
  torch::Tensor memory;  ///< [B, S, M] states at every position (zeros at padding), M = memory_size()
  torch::Tensor mask;    ///< [B, S] bool, true at real positions
  torch::Tensor final;   ///< [B, M] final state of the top layer (both directions)
};

/// Word dropout (Marian's --dropout-src and --dropout-trg): in training, each
/// position's whole vector of `embedded` ([..., E]) is zeroed with probability
/// `p` and the others are scaled by 1 / (1 - p); otherwise `embedded` itself.
torch::Tensor word_dropout(const torch::Tensor& embedded, double p, bool training);

class EncoderImpl : public torch::nn::Module {
 public:
  /// `embeddings` belongs to the model (it may be shared with the decoder);
  /// the encoder uses it without registering it.
  EncoderImpl(const ModelOptions& options, torch::nn::Embedding embeddings);

  /// @param source  [B, S] int64 ids, padded with kPadId
  /// @param lengths [B] int64 real lengths
  EncoderOutput forward(const torch::Tensor& source, const torch::Tensor& lengths);

 private:
  torch::nn::Embedding embeddings_;
  torch::nn::Dropout dropout_;
  std::shared_ptr<RnnStackImpl> rnn_;
  bool bidirectional_;
  double word_dropout_;
};
TORCH_MODULE(Encoder);

}  // namespace tandem::model
