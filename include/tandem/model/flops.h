// Floating-point operations of the model, counted from its sizes.
//
// Counted: matrix products, 2 operations per multiply-add (biases, activations,
// softmax and other element-wise work are left out; at the usual sizes they are
// under 2% of the products). Training costs 3x the forward pass: the backward
// pass computes two products per forward product (gradient of the input and of
// the weight). Per sentence of S source and T target tokens (eos included):
//   encoder   per source token and direction: G H (I + H)   (G gates: 1 tanh RNN, 3 GRU, 4 LSTM;
//             I = E for the first layer, H x directions after)
//   keys      per source token: M Q (Bahdanau, luong-general; Q = H, M = encoder state width)
//   bridge    per sentence: M (dec_depth H)
//   decoder   per target token: G H (I + H) a layer (I = E + M Bahdanau, 2E Luong, E none; H above)
//   attention per target token: H H query (Bahdanau) + S H scores + S M context
//   features  per target token: F E (F = H + M + E Bahdanau, M + H Luong, H + E none)
//   output    per target token: E V
// With the reference peer's layer sizes the same rules give the 121 MFLOP per
// target token that issue 7 quotes, output layer 71%.
#pragma once

#include "tandem/model/model_options.h"

namespace tandem::model {

/// Forward-pass operations per target token, by part.
struct FlopCount {
  double encoder = 0;    ///< recurrent layers over the source, keys, bridge
  double attention = 0;  ///< query, scores, context
  double decoder = 0;    ///< recurrent layers over the target
  double features = 0;   ///< the layer between decoder and output
  double output = 0;     ///< the output layer (logits)

  double forward() const { return encoder + attention + decoder + features + output; }
  /// Forward and backward: 3x forward.
  double training() const { return 3 * forward(); }
};

/// Counts for sentences of `source_length` source and `target_length` target
/// tokens, eos included (corpus means give the corpus's mean cost per token).
FlopCount count_flops(const ModelOptions& options, double source_length, double target_length);

}  // namespace tandem::model
