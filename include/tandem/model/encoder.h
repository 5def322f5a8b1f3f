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
};
TORCH_MODULE(Encoder);

}  // namespace tandem::model
