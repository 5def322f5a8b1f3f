#include "tandem/train/validator.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "tandem/error.h"
#include "tandem/eval/bleu.h"
#include "tandem/eval/chrf.h"
#include "tandem/io/line_reader.h"
#include "tandem/model/stream_lm.h"
#include "tandem/translator.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::train {
namespace {

data::ParallelCorpus load_valid_corpus(const std::string& source_path, const std::string& target_path,
                                       const vocab::Tokenizer& source_tokenizer,
                                       const vocab::Tokenizer& target_tokenizer) {
  data::CorpusOptions options;
  options.source_path = source_path;
  options.target_path = target_path;
  options.max_length = 0;
  return data::ParallelCorpus::load(options, source_tokenizer, target_tokenizer);
}

// Restores train mode when validation ends, however it ends.
struct EvalMode {
  model::Seq2Seq& model;
  bool was_training;
  explicit EvalMode(model::Seq2Seq& m) : model(m), was_training(m->is_training()) { model->eval(); }
  ~EvalMode() { model->train(was_training); }
};

}  // namespace

double ValidationResult::value(eval::Metric metric) const {
  switch (metric) {
    case eval::Metric::kCrossEntropy: return cross_entropy;
    case eval::Metric::kPerplexity: return perplexity;
    case eval::Metric::kBleu:
      if (!bleu) throw Error("BLEU was not measured in this validation");
      return *bleu;
    case eval::Metric::kChrf:
      if (!chrf) throw Error("chrF was not measured in this validation");
      return *chrf;
  }
  throw Error("unknown validation metric");
}

Validator::Validator(const std::string& source_path, const std::string& target_path,
                     const vocab::Tokenizer& source_tokenizer, const vocab::Tokenizer& target_tokenizer,
                     int64_t mini_batch, int64_t beam_size)
    : corpus_(load_valid_corpus(source_path, target_path, source_tokenizer, target_tokenizer)),
      source_tokenizer_(source_tokenizer),
      target_tokenizer_(target_tokenizer),
      mini_batch_(std::max<int64_t>(1, mini_batch)),
      beam_size_(beam_size) {
  if (corpus_->size() == 0) throw Error(source_path + ": the validation set holds no usable pair");
  if (source_path.empty()) return;  // a language model's text: nothing to translate
  sources_ = io::read_text_lines(source_path);
  references_ = io::read_text_lines(target_path);
}

Validator::Validator(data::TokenStream stream, const vocab::Tokenizer& tokenizer)
    : stream_(std::move(stream)), source_tokenizer_(tokenizer), target_tokenizer_(tokenizer), mini_batch_(1), beam_size_(1) {}

std::unique_ptr<Validator> Validator::stream(const std::string& path, const vocab::Tokenizer& tokenizer) {
  auto text = data::read_token_stream(path, tokenizer);
  if (text.predicted() == text.lines) throw Error(path + ": the validation text is empty");
  return std::unique_ptr<Validator>(new Validator(std::move(text), tokenizer));
}

ValidationResult Validator::run(model::Seq2Seq& model, torch::Device device, bool score_translations,
                                std::vector<std::string>* translations) const {
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  ValidationResult metrics;
  if (!corpus_) {
    if (score_translations || translations != nullptr) throw Error("a language model's validation has no translations");
    const auto score = model::score_stream(model, stream_.ids, device, precision_);
    metrics.cross_entropy = -score.log_prob / static_cast<double>(score.tokens);
    metrics.perplexity = std::exp(metrics.cross_entropy);
    return metrics;
  }

  // Cross entropy over the kept pairs: their log-probabilities, as tandem-score gives them.
  Translator translator({model}, source_tokenizer_, target_tokenizer_, device);
  translator.set_precision(precision_);
  std::vector<std::vector<int32_t>> sources;
  std::vector<std::vector<int32_t>> targets;
  int64_t tokens = 0;
  for (int64_t i = 0; i < corpus_->size(); ++i) {
    const auto pair = corpus_->pair(i);
    sources.push_back(pair.source);
    targets.push_back(pair.target);
    tokens += static_cast<int64_t>(pair.target.size()) + 1;  // eos included
  }
  double log_prob = 0.0;
  for (const double score : translator.score_ids(sources, targets, mini_batch_)) log_prob += score;
  metrics.cross_entropy = -log_prob / static_cast<double>(tokens);
  metrics.perplexity = std::exp(metrics.cross_entropy);

  if (!score_translations && translations == nullptr) return metrics;
  if (sources_.empty()) throw Error("a language model's validation has no translations, hence no BLEU");
  // Translate every line with the search that tandem-translate uses.
  TranslateOptions options;
  options.mini_batch = mini_batch_;
  options.search.beam_size = beam_size_;
  options.search.normalize = normalize_;
  options.max_input_length = std::numeric_limits<int64_t>::max();
  std::vector<std::string> hypotheses;
  for (auto& result : translator.translate(sources_, options)) hypotheses.push_back(std::move(result.texts.front()));
  if (score_translations) {
    std::vector<std::vector<std::string>> references;
    references.reserve(references_.size());
    for (const auto& r : references_) references.push_back({r});
    metrics.bleu = eval::Bleu().corpus_score(hypotheses, references).score;
    metrics.chrf = eval::Chrf().corpus_score(hypotheses, references);
  }
  if (translations != nullptr) *translations = std::move(hypotheses);
  return metrics;
}

}  // namespace tandem::train
