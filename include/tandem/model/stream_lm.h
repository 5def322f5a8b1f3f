// A language model over a continuous stream (trained with --lm-stream):
// score_stream, its log-probability (the benchmarks' perplexity: PTB, char-rnn),
// read in chunks with the recurrent state carried across them and across line
// ends; sample_stream, text drawn after a prefix as char-rnn's -primetext does.
//
// Usage:
//   auto text = data::read_token_stream("ptb.test.txt", tokenizer);
//   StreamScore s = score_stream(model, text.ids, torch::kCPU, Precision::kFloat32);
//   double perplexity = std::exp(-s.log_prob / s.tokens);   // s.tokens == text.predicted()
//   std::vector<int32_t> more = sample_stream(model, prefix_ids, /*length=*/200, /*temperature=*/0.8, /*seed=*/1, torch::kCPU);
//
// One column (batch of one): every id but the first is predicted from all the
// ids before it, so the figure does not depend on the chunk length (to rounding).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "tandem/model/precision.h"
#include "tandem/model/seq2seq.h"

namespace tandem::model {

struct StreamScore {
  double log_prob = 0.0;  ///< natural log, summed over the predicted ids
  int64_t tokens = 0;     ///< predicted ids: all but the first
};

/// Scores `ids` under `model` (put it in eval mode first), `chunk` ids a forward pass, without gradients.
StreamScore score_stream(Seq2Seq& model, const std::vector<int32_t>& ids, torch::Device device,
                         Precision precision = Precision::kFloat32, int64_t chunk = 256);

/// `length` ids drawn one by one from the model's softmax at `temperature`
/// (above 0), each fed back, after the state has read `prefix` (ids as
/// data::read_token_stream gives them: an eos first; eos ids in the result are
/// line ends). Padding, bos and the unknown piece are never drawn. The same
/// seed gives the same ids.
std::vector<int32_t> sample_stream(Seq2Seq& model, const std::vector<int32_t>& prefix, int64_t length,
                                   double temperature, uint64_t seed, torch::Device device);

}  // namespace tandem::model
