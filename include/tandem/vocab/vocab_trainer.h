// Training a SentencePiece vocabulary with Tandem's fixed special ids.
//
// Usage:
//   tandem::vocab::VocabOptions options;
//   options.inputs = {"train.en.gz", "train.de.gz"};   // joint; one side for a per-side model
//   options.vocab_size = 8000;
//   tandem::vocab::VocabReport report = tandem::vocab::train_vocab(options, "vocab.spm");
//
// Inputs may be plain or gzip text; every line must be valid UTF-8 (the error
// names file and line). Empty lines carry nothing and are left out (counted in
// the report). The model gets pad=0 unk=1 bos=2 eos=3 (special_ids.h) and is
// written atomically: a temporary file in the same folder, then a rename.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::vocab {

/// SentencePiece's unigram, BPE, character and word models; or kWords, Tandem's
/// words vocabulary (tokenizer.h): every whitespace-separated word of the inputs,
/// exactly as written, most frequent first (no normalization, no size limit).
enum class ModelType { kUnigram, kBpe, kChar, kWord, kWords };

struct VocabOptions {
  /// Raw text files, plain or .gz; several files make one joint vocabulary.
  std::vector<std::string> inputs;
  /// Number of pieces, special ids included. Default 8000.
  int32_t vocab_size = 8000;  ///< pieces; for a char model an upper bound (it gets one piece per character); unused by words
  /// Segmentation algorithm. Default unigram.
  ModelType model_type = ModelType::kUnigram;
  /// Share of characters the model must cover; 1.0 keeps every character seen. Default 1.0.
  double character_coverage = 1.0;
  /// Spell unseen characters as UTF-8 bytes instead of unk. Default off.
  bool byte_fallback = false;
  /// SentencePiece normalization rule (nmt_nfkc, nfkc, nmt_nfkc_cf, nfkc_cf, identity). Default nmt_nfkc.
  std::string normalization = "nmt_nfkc";
  /// Sentences sampled for training; 0 uses them all. Default 0.
  int64_t max_sentences = 0;
  /// Threads SentencePiece trains with. Default 1.
  int32_t threads = 1;
};

struct VocabReport {
  int64_t lines_read = 0;     ///< lines in all inputs
  int64_t empty_lines = 0;    ///< of which empty (left out)
  int32_t vocab_size = 0;     ///< pieces in the trained model
};

/// Parses "unigram", "bpe", "char", "word" or "words"; throws tandem::Error otherwise.
ModelType parse_model_type(const std::string& name);

/// Trains a model on `options.inputs` and writes it to `model_path`.
VocabReport train_vocab(const VocabOptions& options, const std::string& model_path);

}  // namespace tandem::vocab
