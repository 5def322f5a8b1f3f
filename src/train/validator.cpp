#include "tandem/train/validator.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "tandem/data/batch.h"
#include "tandem/error.h"
#include "tandem/eval/bleu.h"
#include "tandem/train/loss.h"
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

bool lower_is_better(const std::string& metric) { return metric != "bleu"; }

void check_metric(const std::string& metric) {
  if (metric != "cross-entropy" && metric != "perplexity" && metric != "bleu") {
    throw Error("unknown validation metric '" + metric + "'; use cross-entropy, perplexity or bleu");
  }
}

Validator::Validator(const std::string& source_path, const std::string& target_path,
                     const vocab::Tokenizer& source_tokenizer, const vocab::Tokenizer& target_tokenizer,
                     int64_t mini_batch, int64_t beam_size)
    : corpus_(load_valid_corpus(source_path, target_path, source_tokenizer, target_tokenizer)),
      source_tokenizer_(source_tokenizer),
      target_tokenizer_(target_tokenizer),
      mini_batch_(std::max<int64_t>(1, mini_batch)),
      beam_size_(beam_size) {
  if (corpus_.size() == 0) throw Error(source_path + ": the validation set holds no usable pair");
  sources_ = data::read_text_lines(source_path);
  references_ = data::read_text_lines(target_path);
}

std::map<std::string, double> Validator::run(model::Seq2Seq& model, torch::Device device, bool with_bleu,
                                             std::vector<std::string>* translations) const {
  torch::NoGradGuard no_grad;
  EvalMode eval_mode(model);
  std::map<std::string, double> metrics;

  // Cross entropy over length-sorted batches of the kept pairs.
  std::vector<int64_t> order(static_cast<size_t>(corpus_.size()));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return corpus_.pair(a).source.size() < corpus_.pair(b).source.size();
  });
  double nll = 0.0;
  int64_t tokens = 0;
  for (size_t start = 0; start < order.size(); start += static_cast<size_t>(mini_batch_)) {
    const std::vector<int64_t> indices(order.begin() + static_cast<std::ptrdiff_t>(start),
                                       order.begin() + static_cast<std::ptrdiff_t>(
                                           std::min(order.size(), start + static_cast<size_t>(mini_batch_))));
    const auto batch = data::make_batch(corpus_, indices, device);
    const auto result = cross_entropy(model->forward(batch), batch.target_output, 0.0);
    nll += result.nll.item<double>();
    tokens += result.tokens;
  }
  metrics["cross-entropy"] = nll / static_cast<double>(tokens);
  metrics["perplexity"] = std::exp(metrics["cross-entropy"]);

  if (!with_bleu && translations == nullptr) return metrics;
  // Translate every line with the search that tandem-translate uses.
  Translator translator({model}, source_tokenizer_, target_tokenizer_, device);
  TranslateOptions options;
  options.mini_batch = mini_batch_;
  options.search.beam_size = beam_size_;
  options.max_input_length = std::numeric_limits<int64_t>::max();
  std::vector<std::string> hypotheses;
  for (auto& result : translator.translate(sources_, options)) hypotheses.push_back(std::move(result.texts.front()));
  if (with_bleu) {
    std::vector<std::vector<std::string>> references;
    references.reserve(references_.size());
    for (const auto& r : references_) references.push_back({r});
    metrics["bleu"] = eval::Bleu().corpus_score(hypotheses, references).score;
  }
  if (translations != nullptr) *translations = std::move(hypotheses);
  return metrics;
}

}  // namespace tandem::train
