// Validator: cross entropy, perplexity and BLEU of a model on a validation set.
//
// Usage:
//   Validator validator(source_file, target_file, source_tok, target_tok, /*mini_batch=*/64, /*beam=*/5);
//   ValidationResult r = validator.run(model, device, /*with_bleu=*/true, &translations);
//   double bleu = r.value(eval::Metric::kBleu);
//
// Cross entropy and perplexity are over the real target tokens of the pairs a
// training corpus would keep (empty pairs are left out). BLEU translates every
// source line with beam search (as tandem-translate), decodes the pieces to text and
// scores it against the raw reference lines with sacreBLEU's 13a BLEU. With an
// empty source path the set is monolingual (a language model's): cross entropy
// and perplexity only.
#pragma once

#include <torch/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tandem/data/parallel_corpus.h"
#include "tandem/data/token_stream.h"
#include "tandem/eval/metric.h"
#include "tandem/model/precision.h"
#include "tandem/model/seq2seq.h"
#include "tandem/vocab/tokenizer.h"

namespace tandem::train {

/// What one validation measured.
struct ValidationResult {
  double cross_entropy = 0.0;  ///< nats per target token (eos included)
  double perplexity = 0.0;     ///< exp(cross_entropy)
  std::optional<double> bleu;  ///< sacreBLEU 13a BLEU, when translations were scored
  std::optional<double> chrf;  ///< sacreBLEU chrF2, likewise

  /// The value of `metric`; throws tandem::Error for BLEU or chrF when it was not measured.
  double value(eval::Metric metric) const;
};

class Validator {
 public:
  Validator(const std::string& source_path, const std::string& target_path, const vocab::Tokenizer& source_tokenizer,
            const vocab::Tokenizer& target_tokenizer, int64_t mini_batch, int64_t beam_size);

  /// A language model's validation text scored as one continuous stream
  /// (--lm-stream): cross entropy and perplexity over every token of the file,
  /// each line's end included, the state carried across lines.
  static std::unique_ptr<Validator> stream(const std::string& path, const vocab::Tokenizer& tokenizer);

  /// The precision of the validation's matrix products (the training's --precision).
  void set_precision(model::Precision precision) { precision_ = precision; }

  /// The length normalization of the validation translations (the training's
  /// --valid-normalize; tandem-translate's --normalize): scores divided by length^alpha.
  void set_normalize(double alpha) { normalize_ = alpha; }

  /// Evaluates `model` (in eval mode, without gradients; restores train mode).
  /// With `score_translations`, BLEU and chrF of the translations are measured;
  /// `translations`, when given, receives the translation of every source line.
  ValidationResult run(model::Seq2Seq& model, torch::Device device, bool score_translations,
                       std::vector<std::string>* translations) const;

 private:
  Validator(data::TokenStream stream, const vocab::Tokenizer& tokenizer);

  std::optional<data::ParallelCorpus> corpus_;  // sentence by sentence
  data::TokenStream stream_;                    // or one stream (ids empty when not)
  model::Precision precision_ = model::Precision::kFloat32;
  double normalize_ = 0.0;
  std::vector<std::string> sources_;     // every source line, raw
  std::vector<std::string> references_;  // every reference line, raw
  vocab::Tokenizer source_tokenizer_;
  vocab::Tokenizer target_tokenizer_;
  int64_t mini_batch_;
  int64_t beam_size_;
};

}  // namespace tandem::train
