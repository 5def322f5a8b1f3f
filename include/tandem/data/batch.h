// Batch: a list of sentence pairs as padded LibTorch tensors.
//
// Usage:
//   tandem::data::Batch batch = tandem::data::make_batch(corpus, batcher.next(), device);
//   // batch.source [B, S], batch.target_input [B, T], batch.target_output [B, T]
//
// Layout: batch-major, int64, padded with kPadId at the end of each row.
//   source        x1 .. xm eos pad ..    (length m + 1 in source_lengths)
//   target_input  bos y1 .. yn pad ..    (what the decoder reads: teacher forcing)
//   target_output y1 .. yn eos pad ..    (what it must predict)
// Rows keep the order of `indices`.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "tandem/data/parallel_corpus.h"

namespace tandem::data {

struct Batch {
  torch::Tensor source;          ///< [B, S] source ids + eos, padded
  torch::Tensor source_lengths;  ///< [B] real lengths of source rows (eos included)
  torch::Tensor target_input;    ///< [B, T] bos + target ids, padded
  torch::Tensor target_output;   ///< [B, T] target ids + eos, padded
  std::vector<int64_t> indices;  ///< corpus index of each row

  /// Real (non-pad) target tokens: the count the loss averages over.
  int64_t target_tokens() const;
};

/// Builds the tensors of pairs `indices` of `corpus` on `device`.
Batch make_batch(const ParallelCorpus& corpus, const std::vector<int64_t>& indices,
                 torch::Device device = torch::kCPU);

/// The same from piece ids (no bos/eos); `indices` is left empty.
Batch make_batch(const std::vector<std::vector<int32_t>>& sources, const std::vector<std::vector<int32_t>>& targets,
                 torch::Device device = torch::kCPU);

/// Source side only: [B, S] ids + eos, padded, and [B] lengths.
std::pair<torch::Tensor, torch::Tensor> make_source_batch(const std::vector<std::vector<int32_t>>& sources,
                                                          torch::Device device = torch::kCPU);

}  // namespace tandem::data
