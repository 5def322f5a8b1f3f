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
// c is then not returned); otherwise the sequence is packed. With layer
// normalization every path steps through the sequence itself (LibTorch's
// fused cells have none): each step's input product (x's share of all steps in
// one product) and recurrent product are normalized over their gates and
// multiplied by a learned gain (parameters ln_ih_lK, ln_hh_lK, and _reverse),
// then the biases are added.
#pragma once

#include <torch/nn/module.h>
#include <torch/arg.h>

#include <memory>
#include <utility>
#include <vector>

#include "tandem/model/model_options.h"
#include "tandem/model/recurrent_state.h"
#include "tandem/model/step_weight.h"

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
  /// Layer normalization of each step's input and recurrent products (ModelOptions::layer_norm). Default false.
  TORCH_ARG(bool, layer_norm) = false;
  /// Cells a step in each layer (ModelOptions::enc_cell_depth): the layer's cell on
  /// its input, then transitions - 1 cells on the state alone (a deep transition).
  /// Default 1.
  TORCH_ARG(int64_t, transitions) = 1;
};

/// What RnnStackImpl::project_leading prepares for the steps of a sequence.
struct ProjectedInputs {
  /// x's share of each step's first-layer gates, input bias included: T of [B, gates x hidden]
  /// (unbound once: a select per step would write a full-size gradient each).
  std::vector<torch::Tensor> gates;
  /// Each layer's input and recurrent weights as the steps multiply by them, each
  /// weight's gradient one product over all steps (step_weight.h); the first
  /// layer's input weights are those of y only (x's share is in `gates`).
  std::vector<StepWeight> input, recurrent;
  /// Each layer's biases: input, recurrent.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> biases;
};

class RnnStackImpl : public torch::nn::Module {
 public:
  /// @param inputs  [B, T, input_size]
  /// @param lengths [B] int64 on CPU, real lengths; undefined when no row is padded
  /// @param state   initial state, or an empty one for zeros
  /// @return outputs [B, T, hidden x directions] and the final state
  virtual std::pair<torch::Tensor, RecurrentState> forward(const torch::Tensor& inputs, const torch::Tensor& lengths,
                                                           const RecurrentState& state) = 0;

  /// Teacher forcing, where the first layer's input is [x_t; y_t] and x_t is
  /// known for every step before the first: x's share of the first layer's
  /// input products for all steps in one product, and the weights the steps
  /// use, split once (a split per step would cost a full-size gradient each).
  /// @param leading [B, T, X]
  virtual ProjectedInputs project_leading(const torch::Tensor& leading) = 0;

  /// One step at position t whose first-layer input is [x_t; y_t], x_t's share
  /// taken from `inputs` (equal to forward() on the concatenation).
  /// @param rest y_t [B, Y]  @param state [layers, B, H] (not bidirectional)
  /// @return outputs [B, H] and the next state
  virtual std::pair<torch::Tensor, RecurrentState> step_projected(const ProjectedInputs& inputs, int64_t t,
                                                                  const torch::Tensor& rest,
                                                                  const RecurrentState& state) = 0;
};

/// Builds the stack for `cell`: the plain tanh RNN, GRU or LSTM.
std::shared_ptr<RnnStackImpl> make_rnn_stack(CellType cell, const RnnStackOptions& options);

}  // namespace tandem::model
