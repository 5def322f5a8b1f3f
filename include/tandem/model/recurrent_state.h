// RecurrentState: the state of a stack of recurrent layers, whatever the cell.
//
// GRU and the plain tanh cell use only `h`; LSTM adds its memory cell `c`. Code
// outside the cell factory (rnn_stack.h) never asks which cell it is: it moves
// states around with reorder().
#pragma once

#include <torch/types.h>

namespace tandem::model {

struct RecurrentState {
  torch::Tensor h;  ///< [layers x directions, B, H]
  torch::Tensor c;  ///< [layers x directions, B, H], LSTM only (else undefined)

  bool defined() const { return h.defined(); }

  /// The states of batch rows `indices` (e.g. the surviving beams), in that order.
  /// @param indices [B'] int64
  RecurrentState reorder(const torch::Tensor& indices) const {
    return {h.index_select(/*dim=*/1, indices), c.defined() ? c.index_select(/*dim=*/1, indices) : c};
  }
};

}  // namespace tandem::model
