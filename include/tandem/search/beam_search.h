// The one search loop: beam search, greedy (beam 1) and sampling.
//
// Usage:
//   search::Ensemble ensemble({model}, {});
//   SearchOptions options;  options.beam_size = 5;
//   auto results = search::beam_search(ensemble, source, lengths, options);
//   results[b][0].tokens   // the best hypothesis of sentence b, no bos/eos
//
// Data layout: B sentences x K beams are N = B*K rows of every tensor, row
// b*K + k holding beam k of sentence b. Each step:
//   1. log-probabilities [N, V] from the ensemble for every row's last token;
//   2. candidates: beam search takes the best `open` continuations of each
//      sentence over all its rows (cumulative log-probability); sampling draws
//      one token per open row instead (temperature, top-k); everything else is
//      shared;
//   3. a candidate ending in eos becomes a finished hypothesis and the
//      sentence's beam shrinks by one (as Marian); the others are gathered into
//      rows b*K + 0.. and the decoder state is reordered to match; unused rows
//      carry -inf;
//   4. a sentence is done when its beam is empty; at its length limit only eos
//      is allowed, and at the first step eos is not (no empty translation wins
//      by being short). <pad> and <s> are never chosen, nor <unk> unless
//      allow_unk (as Marian); scores stay the model's log-probabilities. While
//      a sentence has prefix pieces left, its only candidate is the next one.
// Sampling draws from one random stream per sentence, seeded with (seed,
// sentence id), so a sentence's sample does not depend on the batching.
// A sentence that is done leaves the batch: its block of rows is dropped and the
// blocks after it close up, so the steps after it cost only the sentences left.
// Finished hypotheses are ranked by score / length^normalize - word_penalty x
// length, with length counting eos. Rows never see other sentences' data, so
// results do not depend on how sentences are batched.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "tandem/search/ensemble.h"

namespace tandem::search {

enum class Sampling { kNone, kFull, kTopK };

struct SearchOptions {
  /// Beams per sentence (--beam-size); 1 is greedy. Default 5.
  int64_t beam_size = 5;
  /// Length normalization exponent (--normalize): score / length^alpha. Default 0.
  double normalize = 0.0;
  /// Subtracted once per output token from the ranking score (--word-penalty). Default 0.
  double word_penalty = 0.0;
  /// Output length limit: this times the source length, eos included (--max-length-factor). Default 2.
  double max_length_factor = 2.0;
  /// Output length limit in pieces, eos included, instead of the factor when above 0
  /// (a language model has no source to measure; tandem-sample --max-length). Default 0.
  int64_t max_length = 0;
  /// Draw the next tokens instead of searching (--sampling full|topk). Default none.
  Sampling sampling = Sampling::kNone;
  /// With topk sampling: draw among the k most probable tokens (--top-k). Default 10.
  int64_t top_k = 10;
  /// Sampling temperature (--temperature); towards 0 it approaches greedy. Default 1.
  double temperature = 1.0;
  /// Sampling seed (--seed); each sentence draws from its own stream of (seed, sentence id). Default 1234.
  uint64_t seed = 1234;
  /// Let the search choose <unk> (--allow-unk). Default off: <unk> is masked.
  bool allow_unk = false;
  /// Keep each hypothesis's attention weights (for alignments). Default off.
  bool keep_attention = false;
  /// The target ids the output layer covers (a shortlist: int64 [R] on the
  /// models' device); undefined = the whole vocabulary. Default undefined.
  torch::Tensor output_rows;
};

struct Hypothesis {
  std::vector<int32_t> tokens;               ///< output ids, no bos/eos
  double score = 0.0;                        ///< log-probability of tokens + eos under the ensemble
  double ranking = 0.0;                      ///< the score finished hypotheses are sorted by
  std::vector<std::vector<float>> attention;  ///< per output token (eos included): weights over source positions
};

/// Translates a batch. @param source [B, S] int64 (eos included, padded); @param lengths [B]
/// @param sentence_ids [B] ids of the sentences (e.g. their line numbers), which
/// choose their sampling streams; empty means 0 .. B-1
/// @param prefixes [B] pieces each sentence's output must start with (a language
/// model's prompt), forced whatever their probability; empty means none. The
/// hypotheses include them, and their scores include the prefixes' log-probabilities.
/// @return per sentence its finished hypotheses, best first (beam_size of them for
/// beam search; for sampling, one per beam row)
std::vector<std::vector<Hypothesis>> beam_search(Ensemble& ensemble, const torch::Tensor& source,
                                                 const torch::Tensor& lengths, const SearchOptions& options,
                                                 const std::vector<int64_t>& sentence_ids = {},
                                                 const std::vector<std::vector<int32_t>>& prefixes = {});

/// The seed of sentence `sentence_id`'s sampling stream under `seed` (SplitMix64 of both).
uint64_t sentence_seed(uint64_t seed, int64_t sentence_id);

}  // namespace tandem::search
