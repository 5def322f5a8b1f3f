// Translator: raw text in, raw text out, with a trained Tandem model.
//
// Usage:
//   auto translator = tandem::Translator::load({"model_dir"}, torch::kCPU);
//   tandem::TranslateOptions options;             // beam 5, mini-batch 64
//   auto results = translator.translate({"Ein Hund läuft.", ""}, options);
//   std::cout << results[0].texts[0] << "\n";    // "A dog is running."
//   translator.translate_stream(std::cin, std::cout, options, &std::cerr);
//
// Contract: exactly one result per input line, in input order. An empty (or
// all-space) line gives an empty translation without running the model. Invalid
// UTF-8 is replaced by U+FFFD and counted; a '\r' before the newline and a byte
// order mark are dropped; a line longer than max_input_length pieces is cut to
// that length and flagged. SentencePiece encoding and decoding happen inside.
// A model path is a checkpoint file or a model folder, where the first of
// model.best-bleu.ckpt, model.best-cross-entropy.ckpt, model.best-perplexity.ckpt
// and model.ckpt that exists is used.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "tandem/data/shortlist.h"
#include "tandem/model/precision.h"
#include "tandem/model/seq2seq.h"
#include "tandem/search/beam_search.h"
#include "tandem/vocab/tokenizer.h"

namespace tandem {

/// Attention alignments appended to each output line (--alignment): Marian's hard
/// "i-j" pairs or soft weights, or soft weights followed by the output pieces the
/// weights' rows belong to (" ||| w,w,... w,w,... ||| ▁A ▁dog"; tandem-plot draws from them).
enum class AlignmentOutput { kNone, kHard, kSoft, kSoftPieces };

/// max_input_length for a character-level source vocabulary (lines are four to
/// five times longer in pieces than in subwords, whose default is 256).
constexpr int64_t kCharacterMaxInputLength = 1024;

struct TranslateOptions {
  /// Beam size, normalization, sampling, ... (search/beam_search.h).
  search::SearchOptions search;
  /// Sentences translated together (--mini-batch). Default 64.
  int64_t mini_batch = 64;
  /// Mini-batches read, sorted by length and translated before output (--maxi-batch). Default 100.
  int64_t maxi_batch = 100;
  /// Source pieces kept per line; longer lines are cut (--max-input-length). Default 256.
  int64_t max_input_length = 256;
  /// Print every hypothesis in Moses n-best format (--n-best). Default off.
  bool n_best = false;
  /// Add the score to 1-best lines (--output-scores). Default off.
  bool output_scores = false;
  /// Append attention alignments (--alignment hard|soft). Default none.
  AlignmentOutput alignment = AlignmentOutput::kNone;
};

struct TranslationResult {
  std::vector<search::Hypothesis> hypotheses;  ///< best first; empty for an empty line
  std::vector<std::string> texts;              ///< decoded hypotheses, same order ("" for an empty line)
  int64_t source_pieces = 0;                   ///< pieces the model read (after any cut)
  bool truncated = false;                      ///< the line was cut to max_input_length
  size_t replaced_bytes = 0;                   ///< invalid UTF-8 sequences replaced by U+FFFD
  /// With AlignmentOutput::kSoftPieces: each hypothesis's output pieces, as the decoder chose them.
  std::vector<std::vector<std::string>> pieces;
};

struct StreamStats {
  int64_t lines = 0;           ///< lines translated
  int64_t output_pieces = 0;   ///< pieces in the 1-best outputs
  int64_t truncated = 0;       ///< lines cut to max_input_length
  int64_t replaced = 0;        ///< lines with invalid UTF-8 replaced
  double seconds = 0.0;        ///< wall time
};

class Translator {
 public:
  /// Loads checkpoints (files or model folders); several make an ensemble.
  static Translator load(const std::vector<std::string>& paths, torch::Device device,
                         std::vector<double> weights = {});

  /// Wraps models already in memory (e.g. during training).
  Translator(std::vector<model::Seq2Seq> models, vocab::Tokenizer source, vocab::Tokenizer target,
             torch::Device device, std::vector<double> weights = {});

  /// Translates lines; one result per line, in order. `first_line` is the number
  /// of lines before these in the whole input: with sampling, line i draws from
  /// the stream of (seed, first_line + i), whatever the batching.
  std::vector<TranslationResult> translate(const std::vector<std::string>& lines, const TranslateOptions& options,
                                           int64_t first_line = 0);

  /// A language model's sentences: one result per prefix, in order; each
  /// hypothesis starts with its prefix's pieces (an empty prefix: a new
  /// sentence), and its text is the whole sentence. `first_line` works as for
  /// translate(): prefix i samples from the stream of (seed, first_line + i).
  /// Set options.search.max_length (no source to measure the length by).
  std::vector<TranslationResult> complete(const std::vector<std::string>& prefixes, const TranslateOptions& options,
                                          int64_t first_line = 0);

  /// Translates `in` line by line into `out`, writing and flushing after each
  /// maxi-batch; warnings (cut lines, replaced bytes) go to `log` when given.
  /// `progress` is called after each maxi-batch.
  StreamStats translate_stream(std::istream& in, std::ostream& out, const TranslateOptions& options,
                               std::ostream* log = nullptr,
                               const std::function<void(const StreamStats&)>& progress = {});

  /// The same over any source of lines: `next_line` fills its argument and
  /// returns false at the end (e.g. a data::LineReader over a .gz file).
  StreamStats translate_stream(const std::function<bool(std::string&)>& next_line, std::ostream& out,
                               const TranslateOptions& options, std::ostream* log = nullptr,
                               const std::function<void(const StreamStats&)>& progress = {});

  /// log P(target | source) of each pair under the ensemble (as search scores it): the sum over
  /// the target pieces and eos. `pieces`, when given, receives each target's
  /// piece count + 1 (for eos), the length a per-token normalization divides by.
  std::vector<double> score(const std::vector<std::string>& sources, const std::vector<std::string>& targets,
                            int64_t mini_batch, std::vector<int64_t>* pieces = nullptr);

  /// The same for piece ids (no bos/eos).
  std::vector<double> score_ids(const std::vector<std::vector<int32_t>>& sources,
                                const std::vector<std::vector<int32_t>>& targets, int64_t mini_batch);

  /// The output line(s) for result `line_id` (0-based), without the final newline.
  static std::string format(const TranslationResult& result, int64_t line_id, const TranslateOptions& options);

  /// True when the models are language models (--type lm): they score text
  /// (score() with empty sources) and sample, but do not translate.
  bool is_language_model() const { return models_.front()->options().is_language_model(); }

  /// A vocabulary shortlist for translate() (--shortlist FILE FIRST BEST): each
  /// mini-batch's output layer covers list->candidates(its sources, first, best).
  /// Null: the whole vocabulary. Scoring always uses the whole vocabulary.
  void set_shortlist(std::shared_ptr<const data::Shortlist> list, int64_t first, int64_t best) {
    shortlist_ = std::move(list);
    shortlist_first_ = first;
    shortlist_best_ = best;
  }

  /// The precision of the matrix products in translate(), complete() and scoring
  /// (--precision); float32 unless set.
  void set_precision(model::Precision precision) { precision_ = precision; }
  model::Precision precision() const { return precision_; }

  const vocab::Tokenizer& source_tokenizer() const { return source_; }
  const vocab::Tokenizer& target_tokenizer() const { return target_; }
  std::vector<model::Seq2Seq>& models() { return models_; }
  torch::Device device() const { return device_; }

 private:
  /// Searches lines `work` in length-sorted mini-batches: sources[i] (empty for a
  /// language model) and prefixes[i] (none when `prefixes` is empty) into results[i].
  void search_batches(std::vector<size_t> work, const std::vector<std::vector<int32_t>>& sources,
                      const std::vector<std::vector<int32_t>>& prefixes, const TranslateOptions& options,
                      int64_t first_line, std::vector<TranslationResult>& results);

  std::vector<model::Seq2Seq> models_;
  model::Precision precision_ = model::Precision::kFloat32;
  std::shared_ptr<const data::Shortlist> shortlist_;
  int64_t shortlist_first_ = 100;
  int64_t shortlist_best_ = 100;
  vocab::Tokenizer source_;
  vocab::Tokenizer target_;
  torch::Device device_;
  search::Ensemble ensemble_;
};

/// The checkpoint file a model path stands for (see above); throws tandem::Error.
std::string resolve_model_path(const std::string& path);

}  // namespace tandem
