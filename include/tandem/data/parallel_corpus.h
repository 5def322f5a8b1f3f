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
//
// Memory: the files are read in chunks and tokenized on all cores (`threads`);
// the ids of kept pairs are stored flat. With `cache_folder` set they go to a
// binary id cache there (io::IdCache, one file per text files + vocabularies +
// length limit), memory-mapped, so a corpus of millions of pairs costs no
// memory of its own; the next load reuses the cache when the files' sizes and
// modification times and the vocabularies are unchanged, and rebuilds it when
// not (or when the file is truncated).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tandem/io/id_cache.h"
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
  /// Folder of the binary id cache; empty = no cache (ids in memory). Default empty.
  std::string cache_folder;
  /// Tokenization threads; 0 = the CPUs this process may use. Default 0.
  int threads = 0;
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
  /// Reads, checks and tokenizes both files (or maps their cache); throws
  /// tandem::Error on bad input.
  static ParallelCorpus load(const CorpusOptions& options, const vocab::Tokenizer& source_tokenizer,
                             const vocab::Tokenizer& target_tokenizer);

  int64_t size() const { return size_; }
  /// Pair i (a copy of its ids); throws tandem::Error when i is out of range.
  SentencePair pair(int64_t i) const;
  /// Pieces of pair i's sides, for batching: from the small lengths region, or
  /// from the pair's entry for a side of 65,535 pieces or more.
  int64_t source_length(int64_t i) const {
    const uint16_t n = lengths_[2 * i];
    return n < io::kLongLength ? n : entries_[i].source_length;
  }
  int64_t target_length(int64_t i) const {
    const uint16_t n = lengths_[2 * i + 1];
    return n < io::kLongLength ? n : entries_[i].target_length;
  }
  /// Lets the pages of the id cache read so far go from resident memory (a no-op without a cache).
  void release_pages() const;
  const CorpusReport& report() const { return report_; }
  /// The cache file, and what happened to it: "built", "reused" or "rebuilt (why)"; empty without a cache.
  const std::string& cache_path() const { return cache_path_; }
  const std::string& cache_status() const { return cache_status_; }

 private:
  struct Storage;
  std::shared_ptr<const Storage> storage_;      // ids in memory, or
  std::shared_ptr<const io::IdCache> cache_;    // ids in the mapped cache
  const io::IdEntry* entries_ = nullptr;
  const uint16_t* lengths_ = nullptr;
  const int32_t* ids_ = nullptr;
  int64_t size_ = 0;
  uint64_t id_count_ = 0;
  CorpusReport report_;
  std::string cache_path_;
  std::string cache_status_;
};

}  // namespace tandem::data
