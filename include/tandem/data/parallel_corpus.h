// ParallelCorpus: line-aligned source/target text, checked and tokenized.
//
// Usage:
//   tandem::data::CorpusOptions options;
//   options.source_path = "train.en.gz";
//   options.target_path = "train.de.gz";
//   auto corpus = tandem::data::ParallelCorpus::load(options, src_tok, tgt_tok);
//   std::cerr << corpus.report().summary() << "\n";
//   const SentencePair& pair = corpus.pair(0);   // ids without bos/eos
//
// Checks, before any training starts:
// - both files open, plain or gzip, and have the same number of lines (else an
//   error naming both files and both counts);
// - every line is valid UTF-8 without NUL bytes, else an error naming file and
//   line, or with skip_invalid_utf8 the pair is skipped and counted;
// - pairs where a side is empty (or only spaces) are skipped and counted, and so
//   are pairs where a side has more than max_length pieces.
// Nothing is dropped silently: CorpusReport counts every skipped pair by reason.
// A UTF-8 byte order mark on line 1 and a '\r' before '\n' are removed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tandem/vocab/tokenizer.h"

namespace tandem::data {

struct CorpusOptions {
  // source_path empty: a monolingual corpus (a language model's); every pair's
  // source is empty and only the target file is read.
  /// Source-side text file (plain or .gz).
  std::string source_path;
  /// Target-side text file, line i translating source line i.
  std::string target_path;
  /// Pairs with a side longer than this many pieces are skipped; 0 = no limit. Default 100.
  int64_t max_length = 100;
  /// Skip (and count) pairs with invalid UTF-8 instead of stopping. Default off.
  bool skip_invalid_utf8 = false;
};

struct SentencePair {
  std::vector<int32_t> source;  ///< piece ids, no bos/eos
  std::vector<int32_t> target;  ///< piece ids, no bos/eos
  int64_t line = 0;             ///< 1-based line number in both files
};

struct CorpusReport {
  int64_t lines = 0;             ///< lines in each file
  int64_t kept = 0;              ///< pairs kept
  int64_t skipped_empty = 0;     ///< a side empty or only spaces
  int64_t skipped_too_long = 0;  ///< a side over max_length pieces
  int64_t skipped_invalid = 0;   ///< invalid UTF-8 or NUL (with skip_invalid_utf8)
  int64_t source_tokens = 0;     ///< pieces in kept source sides
  int64_t target_tokens = 0;     ///< pieces in kept target sides

  /// One line a person can read: "29000 lines: 28990 kept, 10 skipped (...)".
  std::string summary() const;
};

class ParallelCorpus {
 public:
  /// Reads, checks and tokenizes both files; throws tandem::Error on bad input.
  static ParallelCorpus load(const CorpusOptions& options, const vocab::Tokenizer& source_tokenizer,
                             const vocab::Tokenizer& target_tokenizer);

  int64_t size() const { return static_cast<int64_t>(pairs_.size()); }
  const SentencePair& pair(int64_t i) const { return pairs_.at(static_cast<size_t>(i)); }
  const std::vector<SentencePair>& pairs() const { return pairs_; }
  const CorpusReport& report() const { return report_; }

 private:
  std::vector<SentencePair> pairs_;
  CorpusReport report_;
};

}  // namespace tandem::data
