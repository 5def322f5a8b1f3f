// Vocabulary shortlists for translation (--shortlist FILE FIRST BEST, Marian's
// form): the output layer of a mini-batch is computed over a few hundred
// candidate target pieces instead of the whole vocabulary: the FIRST most
// frequent target pieces, the BEST associated target pieces of every source
// piece in the mini-batch, and the special pieces.
//
// Usage:
//   auto list = data::Shortlist::build(corpus);                 // from training pairs
//   list.save("shortlist.txt", source_tok, target_tok);
//   auto loaded = data::Shortlist::load("shortlist.txt", source_tok, target_tok);
//   std::vector<int64_t> ids = loaded.candidates(batch_sources, 100, 100);   // sorted target ids
//
// File: "f PIECE" lines (target pieces, most frequent first), then
// "l SOURCE_PIECE TARGET_PIECE SCORE" lines (each source piece's associated
// target pieces, best first; SCORE is the Dice coefficient of their
// co-occurrence in sentence pairs). Marian's lexical shortlists ("TARGET SOURCE
// PROB" lines, from fast_align) load too; their FIRST pieces are the first ids
// of the target vocabulary, as in Marian.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tandem/data/parallel_corpus.h"
#include "tandem/vocab/tokenizer.h"

namespace tandem::data {

class Shortlist {
 public:
  /// From the pairs of `corpus`: target piece frequencies, and for each source
  /// piece its `keep` most associated target pieces (Dice over pairs). The
  /// co-occurrence counts take at most `memory_bytes` (at least one source
  /// piece's row of the target vocabulary): a shard of source pieces at a time,
  /// one pass over the corpus each, so memory does not grow with the corpus
  /// (the result is the same for every bound).
  static Shortlist build(const ParallelCorpus& corpus, int64_t keep = 100, int64_t memory_bytes = kBuildMemory);
  static constexpr int64_t kBuildMemory = int64_t{256} << 20;

  /// Reads a file written by save() or a Marian lexical shortlist; pieces are
  /// mapped to ids with the tokenizers. Throws tandem::Error naming the file and
  /// line for a malformed line or a piece the vocabulary lacks.
  static Shortlist load(const std::string& path, const vocab::Tokenizer& source, const vocab::Tokenizer& target);

  /// Writes the tandem format (pieces as text); throws tandem::Error naming the file.
  void save(const std::string& path, const vocab::Tokenizer& source, const vocab::Tokenizer& target) const;

  /// Sorted, distinct target ids: the special pieces, the `first` most frequent
  /// pieces and the `best` most associated pieces of each source id in `sources`.
  std::vector<int64_t> candidates(const std::vector<std::vector<int32_t>>& sources, int64_t first, int64_t best) const;

  /// Target ids, most frequent first.
  const std::vector<int32_t>& frequent() const { return frequent_; }

 private:
  std::vector<int32_t> frequent_;
  std::unordered_map<int32_t, std::vector<std::pair<int32_t, double>>> associated_;  // best first
};

}  // namespace tandem::data
