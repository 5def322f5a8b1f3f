#include "tandem/train/trainer.h"

#include <torch/torch.h>

#include "tandem/error.h"
#include "tandem/eval/metric.h"
#include "training_run.h"

namespace tandem::train {

Trainer::Trainer(TrainOptions options) : options_(std::move(options)) {
  if (options_.model_dir.empty()) throw Error("--model (the model folder) is required");
  options_.model.validate();  // before hours of vocabulary training or data reading, not after
  if (options_.model.is_language_model()) {
    if (options_.train_sets.size() != 1) throw Error("--type lm trains on one file: --train-sets FILE");
    if (options_.valid_sets.size() > 1) throw Error("--type lm validates on one file: --valid-sets FILE");
    if (options_.vocabs.size() > 1) throw Error("--type lm takes one SentencePiece model (--vocabs FILE)");
    for (const auto metric : options_.valid_metrics) {
      if (eval::needs_translations(metric)) {
        throw Error("--valid-metrics " + eval::metric_name(metric) +
                    " needs translations; a language model (--type lm) is validated by cross-entropy and perplexity");
      }
    }
  } else {
    if (options_.train_sets.size() != 2) throw Error("--train-sets takes two files: source and target");
    if (!options_.valid_sets.empty() && options_.valid_sets.size() != 2) {
      throw Error("--valid-sets takes two files: source and target");
    }
    if (options_.vocabs.size() > 2) throw Error("--vocabs takes one (joint) or two SentencePiece models");
  }
  if (options_.lm_stream) {
    if (!options_.model.is_language_model()) throw Error("--lm-stream needs --type lm: it trains a language model on a stream");
    if (options_.bptt < 1) throw Error("--bptt must be at least 1 (steps of truncated backpropagation an update)");
    if (options_.batching.max_sentences < 1) throw Error("--lm-stream needs --mini-batch of at least 1 (the columns)");
  }
  if (options_.valid_freq_epochs < 0) throw Error("--valid-freq in epochs must not be negative");
  if (options_.valid_metrics.empty()) throw Error("--valid-metrics needs at least one metric");
  if (options_.clip_norm < 0) throw Error("--clip-norm must not be negative");
  if (options_.label_smoothing < 0 || options_.label_smoothing >= 1) throw Error("--label-smoothing must be in [0, 1)");
  if (options_.valid_freq < 0 || options_.disp_freq < 0) throw Error("--valid-freq and --disp-freq must not be negative");
  if (options_.max_nonfinite_updates < 1) throw Error("--max-nonfinite-updates must be at least 1");
  if (options_.optimizer_delay < 1) throw Error("--optimizer-delay must be at least 1");
  if (options_.exponential_smoothing < 0 || options_.exponential_smoothing > 1) {
    throw Error("--exponential-smoothing must be in [0, 1] (0 = off; Marian uses 1e-4)");
  }
  if (options_.keep_last < 0 || options_.save_freq < 0) throw Error("--keep-last and --save-freq must not be negative");
  if (options_.keep_last > 0 && options_.save_freq == 0 && options_.valid_freq == 0) {
    throw Error("--keep-last needs --save-freq (or --valid-freq) above 0: how often to write a snapshot");
  }
}


model::TrainState Trainer::run() {
  dist::Communicator single;
  TrainingRun run(options_, options_.communicator != nullptr ? *options_.communicator : single);
  const auto state = run.run();
  interrupted_by_ = run.interrupted_by();
  return state;
}


}  // namespace tandem::train
