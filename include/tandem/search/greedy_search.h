// Greedy search: the decoder feeds its own most probable token back in.
//
// Usage:
//   auto outputs = greedy_search(model, batch.source, batch.source_lengths, {});  // ids, no bos/eos
//
// Batched: all rows advance together; a row stops at eos or at its own length
// limit (max_length_factor x source length + max_length_extra). Uses only the
// model's narrow search interface: encode, start, step, logits.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "tandem/model/seq2seq.h"

namespace tandem::search {

struct GreedyOptions {
  /// Output length limit relative to the source length. Default 2.
  double max_length_factor = 2.0;
  /// Added to the limit, for very short sources. Default 10.
  int64_t max_length_extra = 10;
};

/// @param source [B, S] int64; @param lengths [B] int64 (eos included)
/// @return per row the output ids, without bos and eos
std::vector<std::vector<int32_t>> greedy_search(model::Seq2Seq& model, const torch::Tensor& source,
                                                const torch::Tensor& lengths, const GreedyOptions& options);

}  // namespace tandem::search
