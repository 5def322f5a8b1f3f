// RnnStack: a stack of recurrent layers of one cell kind, one module for all kinds.
//
// Usage:
//   auto rnn = make_rnn_stack(CellType::kLstm, RnnStackOptions(/*input=*/256, /*hidden=*/512).layers(2));
//   auto [outputs, state] = rnn->forward(inputs, lengths, {});   // [B, T, H x dirs]
//
// make_rnn_stack is the one place that switches on CellType; the encoder and
// decoder only see this interface and RecurrentState. With `lengths`, padded
// positions influence neither the outputs at real positions nor the final
// state, and their outputs are zero. On the CPU from a zero state, each
// direction's input projection for all time steps is one product and the
// backward direction reads rows reversed within their lengths (an LSTM's final
// c is then not returned); otherwise the sequence is packed.
#pragma once

#include <torch/nn/module.h>
#include <torch/arg.h>

#include <memory>
#include <utility>

#include "tandem/model/model_options.h"
#include "tandem/model/recurrent_state.h"

namespace tandem::model {

struct RnnStackOptions {
  RnnStackOptions(int64_t input_size, int64_t hidden_size) : input_size_(input_size), hidden_size_(hidden_size) {}
  /// Width of each input vector.
  TORCH_ARG(int64_t, input_size);
  /// Width of the state per direction.
  TORCH_ARG(int64_t, hidden_size);
  /// Stacked layers. Default 1.
  TORCH_ARG(int64_t, layers) = 1;
  /// Run a second stack backwards and concatenate. Default false.
  TORCH_ARG(bool, bidirectional) = false;
  /// Dropout between layers. Default 0.
  TORCH_ARG(double, dropout) = 0.0;
};

class RnnStackImpl : public torch::nn::Module {
 public:
  /// @param inputs  [B, T, input_size]
  /// @param lengths [B] int64 on CPU, real lengths; undefined when no row is padded
  /// @param state   initial state, or an empty one for zeros
  /// @return outputs [B, T, hidden x directions] and the final state
  virtual std::pair<torch::Tensor, RecurrentState> forward(const torch::Tensor& inputs, const torch::Tensor& lengths,
                                                           const RecurrentState& state) = 0;
};

/// Builds the stack for `cell`: the plain tanh RNN, GRU or LSTM.
std::shared_ptr<RnnStackImpl> make_rnn_stack(CellType cell, const RnnStackOptions& options);

}  // namespace tandem::model
