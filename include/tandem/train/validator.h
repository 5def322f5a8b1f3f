// Validator: cross entropy, perplexity and BLEU of a model on a validation set.
//
// Usage:
//   Validator validator(source_file, target_file, source_tok, target_tok, /*mini_batch=*/64, /*beam=*/5);
//   std::map<std::string, double> metrics = validator.run(model, device, &translations);
//
// Cross entropy and perplexity are over the real target tokens of the pairs a
// training corpus would keep (empty pairs are left out). BLEU translates every
// source line with beam search (as tandem-translate), decodes the pieces to text and
// scores it against the raw reference lines with sacreBLEU's 13a BLEU.
#pragma once

#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

#include "tandem/data/parallel_corpus.h"
#include "tandem/model/seq2seq.h"
#include "tandem/vocab/tokenizer.h"

namespace tandem::train {

/// True for metrics where lower is better (cross-entropy, perplexity).
bool lower_is_better(const std::string& metric);

/// Throws tandem::Error unless `metric` is cross-entropy, perplexity or bleu.
void check_metric(const std::string& metric);

class Validator {
 public:
  Validator(const std::string& source_path, const std::string& target_path, const vocab::Tokenizer& source_tokenizer,
            const vocab::Tokenizer& target_tokenizer, int64_t mini_batch, int64_t beam_size);

  /// Evaluates `model` (in eval mode, without gradients; restores train mode).
  /// `translations`, when given, receives the translation of every source line.
  std::map<std::string, double> run(model::Seq2Seq& model, torch::Device device, bool with_bleu,
                                    std::vector<std::string>* translations) const;

 private:
  data::ParallelCorpus corpus_;
  std::vector<std::string> sources_;     // every source line, raw
  std::vector<std::string> references_;  // every reference line, raw
  vocab::Tokenizer source_tokenizer_;
  vocab::Tokenizer target_tokenizer_;
  int64_t mini_batch_;
  int64_t beam_size_;
};

}  // namespace tandem::train
