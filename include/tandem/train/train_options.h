// TrainOptions: everything tandem-train is told, typed; src/cli fills it.
#pragma once

#include <torch/types.h>

#include <atomic>
#include <functional>
#include <cstdint>
#include <string>
#include <vector>

#include "tandem/data/batcher.h"
#include "tandem/dist/communicator.h"
#include "tandem/eval/metric.h"
#include "tandem/model/model_options.h"
#include "tandem/model/precision.h"
#include "tandem/model/seq2seq.h"
#include "tandem/train/lr_schedule.h"

namespace tandem::train {

enum class OptimizerType { kAdam, kSgd };

/// Pieces a training sentence may have by default: subwords, and characters
/// (a sentence is four to five times longer in characters).
constexpr int64_t kDefaultMaxLength = 100;
constexpr int64_t kDefaultCharacterMaxLength = 400;

struct TrainOptions {
  /// Folder of checkpoints, logs and (when trained here) the vocabulary. Required.
  std::string model_dir;
  /// Source and target training files (plain or .gz); one file for a language
  /// model (model.type() == kLanguageModel). Required.
  std::vector<std::string> train_sets;
  /// SentencePiece models: one joint or one per side; empty = train a joint one into model_dir.
  std::vector<std::string> vocabs;
  /// Pieces of the vocabulary trained when `vocabs` is empty (--dim-vocabs). Default 8000.
  int32_t vocab_size = 8000;
  /// Source and target validation files (one for a language model); empty = no validation.
  std::vector<std::string> valid_sets;
  /// Skip training pairs with a side longer than this many pieces (--max-length);
  /// 0 = no limit; -1 = kDefaultMaxLength, or kDefaultCharacterMaxLength when the
  /// vocabulary is character-level. Default -1.
  int64_t max_length = -1;
  /// Folder of the binary token id cache of the training corpus (--data-cache);
  /// empty = model_dir; "none" = no cache (the ids are held in memory). Default empty.
  std::string data_cache;
  /// Skip and count pairs with invalid UTF-8 instead of stopping. Default off.
  bool skip_invalid_utf8 = false;
  /// Batching: --mini-batch, --mini-batch-tokens, --maxi-batch, --seed.
  data::BatchOptions batching;
  /// Architecture (ignored when resuming: the checkpoint's is used).
  model::ModelOptions model{1, 1};
  /// Adam (default) or SGD (--optim).
  OptimizerType optimizer = OptimizerType::kAdam;
  /// Learning rate and its schedule.
  LrScheduleOptions lr;
  /// Gradient clipping by global norm; 0 = off (--clip-norm). Default 1.
  double clip_norm = 1.0;
  /// Label smoothing (--label-smoothing). Default 0.
  double label_smoothing = 0.0;
  /// Stop after this many epochs / updates / seconds; 0 = no limit.
  int64_t after_epochs = 0;
  int64_t after_updates = 0;
  double after_seconds = 0.0;
  /// Stop after this many validations without improvement of the first metric; 0 = never. Default 10.
  int64_t early_stopping = 10;
  /// Exponential smoothing of the weights (--exponential-smoothing): after each
  /// update smoothed += rate * (weights - smoothed), rate = smoothing_rate(factor,
  /// updates before it) (Marian's early-training correction); the smoothed weights
  /// are validated and saved as best, the raw ones train on; both are in model.ckpt.
  /// 0 = off. Default 0.
  double exponential_smoothing = 0.0;
  /// Keep the newest this many snapshots model.iter-UPDATES.ckpt (weights only,
  /// the smoothed ones when smoothing) for tandem-average (--keep-last); 0 = none. Default 0.
  int64_t keep_last = 0;
  /// Updates between snapshots (--save-freq); 0 = --valid-freq. Default 0.
  int64_t save_freq = 0;
  /// Validate (and save) every this many updates (--valid-freq). Default 1000.
  int64_t valid_freq = 1000;
  /// Validate (and save) at the end of every this many epochs (--valid-freq Ne);
  /// 0 = not by epochs. Default 0.
  int64_t valid_freq_epochs = 0;
  /// A language model trained on its text as one continuous stream (--lm-stream):
  /// the training file read with an eos after every line, cut into
  /// batching.max_sentences columns, `bptt` steps an update, the recurrent state
  /// carried (detached) from one update to the next and saved in checkpoints;
  /// validation scores the validation file as one stream. Default off.
  bool lm_stream = false;
  /// Steps of truncated backpropagation through time an update (--bptt). Default 35.
  int64_t bptt = 35;
  /// A new model's weights, every one, drawn uniformly from [-init_range,
  /// init_range] (--init-range; Zaremba et al. use 0.1, 0.05 for larger
  /// models); 0 = Tandem's initialization. Default 0.
  double init_range = 0.0;
  /// Fine-tuning (--pretrained-model CKPT, Marian's name): a new run (a folder
  /// without model.ckpt) starts from this checkpoint's weights, architecture and
  /// vocabularies, with a new optimizer, schedule and data; the model's dropout
  /// rates are this run's. Empty: a new model. A folder that holds model.ckpt
  /// resumes as always.
  std::string pretrained_model;
  /// The options of `model` (and --vocab-size) given on the command line or in
  /// the configuration, by name ("dim-rnn", "cell", ...): with pretrained_model,
  /// each must equal the checkpoint's, or the run stops naming both values.
  std::vector<std::string> given_architecture;
  /// Log every this many updates (--disp-freq). Default 100.
  int64_t disp_freq = 100;
  /// Validation metrics, the first decides early stopping and plateaus
  /// (--valid-metrics). Default cross-entropy perplexity bleu.
  std::vector<eval::Metric> valid_metrics{eval::Metric::kCrossEntropy, eval::Metric::kPerplexity, eval::Metric::kBleu};
  /// Sentences per validation batch. Default 64.
  int64_t valid_mini_batch = 64;
  /// Beam size of the validation translations (--valid-beam-size). Default 5.
  int64_t valid_beam_size = 5;
  /// Length normalization of the validation translations, as tandem-translate's
  /// --normalize (--valid-normalize): scores divided by length^alpha. Default 0 (off).
  double valid_normalize = 0.0;
  /// Translations of the validation set go to model_dir/valid.output (--valid-translation-output). Default on.
  bool keep_valid_translations = true;
  /// Seed of initialisation, dropout and shuffling. Default 1111.
  uint64_t seed = 1111;
  /// Mini-batches (per worker) whose gradients are summed into one update
  /// (--optimizer-delay); the loss is normalized by the target tokens of all of them. Default 1.
  int64_t optimizer_delay = 1;
  /// Several workers: start summing the gradients during the update's last
  /// backward pass, bucket by bucket (--all-reduce-overlap).
  bool overlap_all_reduce = true;
  /// The data-parallel workers this process trains with (not owned); null = a
  /// single process. Worker r takes batches r, r+W, r+2W, ... of the batch
  /// stream; gradients are summed over the workers before each update, so W
  /// workers update as one process with --optimizer-delay W would. Rank 0 alone
  /// validates, writes checkpoints and logs.
  dist::Communicator* communicator = nullptr;
  /// Where the model trains (--device cpu|cuda|cuda:N). Default CPU.
  torch::Device device = torch::kCPU;
  /// LibTorch CPU threads this run uses, recorded in checkpoints (resuming with
  /// another count is exact only to rounding); 0 = not recorded. The program sets it.
  int64_t cpu_threads = 0;
  /// Print progress lines on stderr. Default on.
  bool verbose = true;
  /// A progress line on stderr, rewritten in place (epoch share, updates/s, tokens/s,
  /// time left when a limit is set); tandem-train turns it on when stderr is a
  /// terminal and --quiet is not given. Default false.
  bool progress = false;
  /// Matrix products in float32 or bfloat16 (--precision; float32 weights,
  /// gradients and optimizer state either way). Default float32.
  model::Precision precision = model::Precision::kFloat32;
  /// Stop with an error after this many updates in a row with a NaN or infinite
  /// loss or gradient norm (each is skipped with a warning) (--max-nonfinite-updates). Default 10.
  int64_t max_nonfinite_updates = 10;
  /// When set and non-zero (a signal number, set by a signal handler), training
  /// stops after the current update and writes model.ckpt. Not owned.
  const std::atomic<int>* stop_request = nullptr;
  /// Called after each backward pass, before clipping, with the model and the
  /// 1-based number of the update; tests inject gradients through it. Default none.
  std::function<void(model::Seq2Seq&, int64_t)> gradient_hook;
};

}  // namespace tandem::train
