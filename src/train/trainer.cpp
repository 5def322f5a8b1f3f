#include "tandem/train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <sstream>

#include "tandem/data/batch.h"
#include "tandem/data/parallel_corpus.h"
#include "tandem/error.h"
#include "tandem/io/json_log.h"
#include "tandem/train/loss.h"
#include "tandem/train/lr_schedule.h"
#include "tandem/train/validator.h"
#include "tandem/vocab/tokenizer.h"
#include "tandem/vocab/vocab_trainer.h"

namespace tandem::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string format_number(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(OptimizerType type, model::Seq2Seq& model, double lr) {
  if (type == OptimizerType::kSgd) {
    return std::make_unique<torch::optim::SGD>(model->parameters(), torch::optim::SGDOptions(lr));
  }
  return std::make_unique<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(lr));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

bool improves(eval::Metric metric, double value, const std::map<eval::Metric, double>& best) {
  const auto it = best.find(metric);
  if (it == best.end()) return true;
  return eval::lower_is_better(metric) ? value < it->second : value > it->second;
}

}  // namespace

Trainer::Trainer(TrainOptions options) : options_(std::move(options)) {
  if (options_.model_dir.empty()) throw Error("--model (the model folder) is required");
  if (options_.model.is_language_model()) {
    if (options_.train_sets.size() != 1) throw Error("--type lm trains on one file: --train-sets FILE");
    if (options_.valid_sets.size() > 1) throw Error("--type lm validates on one file: --valid-sets FILE");
    if (options_.vocabs.size() > 1) throw Error("--type lm takes one SentencePiece model (--vocabs FILE)");
    for (const auto metric : options_.valid_metrics) {
      if (metric == eval::Metric::kBleu) {
        throw Error("--valid-metrics bleu needs translations; a language model (--type lm) is validated by "
                    "cross-entropy and perplexity");
      }
    }
  } else {
    if (options_.train_sets.size() != 2) throw Error("--train-sets takes two files: source and target");
    if (!options_.valid_sets.empty() && options_.valid_sets.size() != 2) {
      throw Error("--valid-sets takes two files: source and target");
    }
    if (options_.vocabs.size() > 2) throw Error("--vocabs takes one (joint) or two SentencePiece models");
  }
  if (options_.valid_metrics.empty()) throw Error("--valid-metrics needs at least one metric");
  if (options_.clip_norm < 0) throw Error("--clip-norm must not be negative");
  if (options_.label_smoothing < 0 || options_.label_smoothing >= 1) throw Error("--label-smoothing must be in [0, 1)");
  if (options_.valid_freq < 0 || options_.disp_freq < 0) throw Error("--valid-freq and --disp-freq must not be negative");
  if (options_.max_nonfinite_updates < 1) throw Error("--max-nonfinite-updates must be at least 1");
}

model::TrainState Trainer::run() {
  const auto& o = options_;
  std::ostream& log = std::cerr;
  const fs::path dir(o.model_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(o.model_dir + ": cannot create the model folder (" + ec.message() + ")");
  {  // Find out now, not at the first checkpoint hours later, that the folder is not writable.
    const std::string probe = (dir / ".tandem-write-test").string();
    std::ofstream test(probe);
    const bool writable = static_cast<bool>(test << "x" << std::flush);
    test.close();
    std::remove(probe.c_str());
    if (!writable) throw Error(o.model_dir + ": cannot write in the model folder; check its permissions and free space");
  }
  const std::string last_path = (dir / "model.ckpt").string();
  const torch::Device device = o.device;
  torch::manual_seed(o.seed);

  // Model, vocabularies and state: from the last checkpoint, or new.
  std::unique_ptr<model::LoadedCheckpoint> resumed;
  model::CheckpointMeta meta;
  model::Seq2Seq model{nullptr};
  if (fs::exists(last_path)) {
    resumed = std::make_unique<model::LoadedCheckpoint>(model::load_checkpoint(last_path, device));
    meta = resumed->meta;
    model = resumed->model;
    if (meta.options.type() != o.model.type()) {
      throw Error(last_path + ": a " + model::model_type_name(meta.options.type()) +
                  " checkpoint, but this run trains --type " + model::model_type_name(o.model.type()) +
                  "; use another --model folder or the checkpoint's --type");
    }
    if (o.verbose) {
      log << "resuming from " << last_path << " at update " << meta.state.updates << " (epoch "
          << meta.state.position.epoch + 1 << "); the architecture is the checkpoint's\n";
    }
    const int64_t saved_threads = meta.state.cpu_threads;
    if (saved_threads > 0 && o.cpu_threads > 0 && saved_threads != o.cpu_threads) {
      log << "warning: " << last_path << " was written by a run with " << saved_threads << " CPU threads and this one has "
          << o.cpu_threads << "; training continues, but sums over threads round differently, so the run matches "
          << "one never stopped only approximately (resume with --cpu-threads " << saved_threads << " for exactness)\n";
    }
  } else {
    std::vector<std::string> vocab_paths = o.vocabs;
    if (vocab_paths.empty()) {
      const std::string trained = (dir / "vocab.spm").string();
      if (!fs::exists(trained)) {
        vocab::VocabOptions vocab_options;
        vocab_options.inputs = o.train_sets;
        vocab_options.vocab_size = o.vocab_size;
        if (o.verbose) log << "training a joint vocabulary of " << o.vocab_size << " pieces into " << trained << "\n";
        vocab::train_vocab(vocab_options, trained);
      }
      vocab_paths = {trained};
    }
    const auto source_tok = vocab::Tokenizer::load(vocab_paths[0]);
    const auto target_tok = vocab_paths.size() == 2 ? vocab::Tokenizer::load(vocab_paths[1]) : source_tok;
    meta.options = o.model;
    meta.options.source_vocab(source_tok.vocab_size()).target_vocab(target_tok.vocab_size());
    meta.source_vocab = source_tok.model_bytes();
    meta.target_vocab = target_tok.model_bytes();
    model = model::Seq2Seq(meta.options);
    model->to(device);
  }
  model::TrainState& state = meta.state;
  const auto source_tok = vocab::Tokenizer::from_bytes(meta.source_vocab, last_path + " (source vocabulary)");
  const auto target_tok = vocab::Tokenizer::from_bytes(meta.target_vocab, last_path + " (target vocabulary)");

  // Data.
  data::CorpusOptions corpus_options;
  const bool language_model = meta.options.is_language_model();
  corpus_options.source_path = language_model ? "" : o.train_sets[0];  // empty: monolingual
  corpus_options.target_path = o.train_sets.back();
  const bool characters = source_tok.is_character_level() && target_tok.is_character_level();
  corpus_options.max_length =
      o.max_length >= 0 ? o.max_length : characters ? kDefaultCharacterMaxLength : kDefaultMaxLength;
  if (o.verbose && o.max_length < 0) {
    log << "max length: " << corpus_options.max_length << " pieces" << (characters ? " (a character vocabulary)" : "")
        << "\n";
  }
  corpus_options.skip_invalid_utf8 = o.skip_invalid_utf8;
  const auto corpus = data::ParallelCorpus::load(corpus_options, source_tok, target_tok);
  if (o.verbose) log << "train corpus: " << corpus.report().summary() << "\n";
  if (corpus.size() == 0) {
    throw Error(language_model ? "no usable training sentence is left in " + o.train_sets.front()
                               : "no usable training pair is left in " + o.train_sets[0] + " / " + o.train_sets[1]);
  }
  if (resumed && state.corpus_pairs != corpus.size()) {
    throw Error("the training corpus changed since " + last_path + " was written (" +
                std::to_string(state.corpus_pairs) + " pairs then, " + std::to_string(corpus.size()) +
                " now); resuming would not continue the same run: restore the files or start a new --model folder");
  }
  state.corpus_pairs = corpus.size();
  state.cpu_threads = o.cpu_threads;
  std::vector<int64_t> source_lengths;
  std::vector<int64_t> target_lengths;
  for (const auto& pair : corpus.pairs()) {
    source_lengths.push_back(static_cast<int64_t>(pair.source.size()));
    target_lengths.push_back(static_cast<int64_t>(pair.target.size()));
  }
  data::Batcher batcher(source_lengths, target_lengths, o.batching);
  batcher.seek(state.position);

  std::unique_ptr<Validator> validator;
  if (!o.valid_sets.empty()) {
    validator = std::make_unique<Validator>(language_model ? "" : o.valid_sets.front(), o.valid_sets.back(), source_tok,
                                            target_tok, o.valid_mini_batch, o.valid_beam_size);
  }
  const bool with_bleu =
      std::find(o.valid_metrics.begin(), o.valid_metrics.end(), eval::Metric::kBleu) != o.valid_metrics.end();

  // Optimizer, schedule and random state.
  LrScheduler scheduler(o.lr);
  auto optimizer = make_optimizer(o.optimizer, model, scheduler.rate(state.updates + 1));
  if (resumed) {
    model::restore_optimizer(*resumed, *optimizer, last_path);
    model::restore_random_state(*resumed, last_path, device);
    if (!state.scheduler.empty()) scheduler.restore(state.scheduler);
    resumed.reset();
  }
  io::JsonLog json((dir / "train.log.jsonl").string());
  int64_t parameters = 0;
  for (const auto& p : model->parameters()) parameters += p.numel();
  if (o.verbose) {
    log << "model: " << parameters << " parameters, "
        << (language_model ? "language model, " : "")
        << model::cell_type_name(meta.options.cell()) << ", "
        << model::attention_type_name(meta.options.attention()) << " attention; device " << device.str() << "\n";
  }

  const auto save_last = [&] {
    state.scheduler = scheduler.state();
    model::save_checkpoint(last_path, model, optimizer.get(), meta, device);
  };
  const auto validate = [&]() -> bool {  // returns true when early stopping says stop
    std::vector<std::string> translations;
    const bool keep_translations = o.keep_valid_translations && !language_model;
    const auto metrics = validator->run(model, device, with_bleu, keep_translations ? &translations : nullptr);
    ++state.validations;
    std::ostringstream line;
    line << "valid · up " << state.updates;
    std::vector<std::pair<std::string, double>> fields{{"update", static_cast<double>(state.updates)}};
    bool first_improved = false;
    for (size_t m = 0; m < o.valid_metrics.size(); ++m) {
      const auto metric = o.valid_metrics[m];
      const std::string name = eval::metric_name(metric);
      const double value = metrics.value(metric);
      const bool improved = improves(metric, value, state.best);
      if (improved) {
        state.best[metric] = value;
        state.scheduler = scheduler.state();
        model::save_checkpoint((dir / ("model.best-" + name + ".ckpt")).string(), model, nullptr, meta, device);
      }
      if (m == 0) first_improved = improved;
      line << " · " << name << " " << format_number(value, metric == eval::Metric::kPerplexity ? 2 : 4)
           << (improved ? " (new best)" : "");
      fields.emplace_back(name, value);
    }
    state.stalled = first_improved ? 0 : state.stalled + 1;
    scheduler.on_validation(first_improved);
    if (!first_improved) line << " · stalled " << state.stalled << "x";
    fields.emplace_back("stalled", static_cast<double>(state.stalled));
    json.write("valid", fields);
    if (o.verbose) log << line.str() << "\n";
    if (keep_translations) {
      std::ofstream out(dir / "valid.output");
      for (const auto& t : translations) out << t << "\n";
    }
    return o.early_stopping > 0 && state.stalled >= o.early_stopping;
  };

  // The loop.
  model->train();
  const auto run_start = Clock::now();
  const double seconds_before = state.seconds;
  auto display_start = Clock::now();
  double display_loss = 0.0;
  double display_nll = 0.0;
  int64_t display_tokens = 0;
  int64_t display_sentences = 0;
  int64_t non_finite_in_a_row = 0;
  bool stop_early = false;
  bool validated_last = false;
  const auto elapsed = [&] {
    return seconds_before + std::chrono::duration<double>(Clock::now() - run_start).count();
  };
  // An update whose loss or gradient is not finite is skipped (its batch is
  // consumed); too many in a row stop training.
  const auto skip_update = [&](const std::string& why) {
    ++non_finite_in_a_row;
    ++state.skipped_updates;
    std::cerr << "warning: update " << state.updates + 1 << ": " << why << "; the update is skipped\n";
    if (non_finite_in_a_row >= o.max_nonfinite_updates) {
      throw Error("the loss or gradient was not finite " + std::to_string(non_finite_in_a_row) +
                  " times in a row; lower --learn-rate or check the data. " + last_path + " holds the last good state");
    }
    state.position = batcher.position();
  };
  while (true) {
    if (o.after_updates > 0 && state.updates >= o.after_updates) break;
    if (o.after_epochs > 0 && batcher.completed_epochs() >= o.after_epochs) break;
    if (o.after_seconds > 0 && elapsed() >= o.after_seconds) break;
    if (stop_early) break;
    if (o.stop_request != nullptr && o.stop_request->load() != 0) {
      interrupted_by_ = o.stop_request->load();
      break;
    }

    const auto indices = batcher.next();
    const auto batch = data::make_batch(corpus, indices, device);
    const double lr = scheduler.rate(state.updates + 1);
    set_learning_rate(*optimizer, lr);
    optimizer->zero_grad();
    const auto result = batch_loss(model, batch, o.label_smoothing);
    const double loss_sum = result.loss.item<double>();
    if (!std::isfinite(loss_sum)) {
      skip_update("the loss is " + std::to_string(loss_sum));
      continue;
    }
    (result.loss / static_cast<double>(result.tokens)).backward();
    if (o.gradient_hook) o.gradient_hook(model, state.updates + 1);
    // The global norm is taken every update (clipping or not): a finite loss can
    // still give an infinite gradient, which would turn every weight into NaN.
    const double norm = torch::nn::utils::clip_grad_norm_(
        model->parameters(), o.clip_norm > 0 ? o.clip_norm : std::numeric_limits<double>::infinity());
    if (!std::isfinite(norm)) {
      skip_update("the gradient norm is " + std::to_string(norm));
      continue;
    }
    non_finite_in_a_row = 0;
    optimizer->step();
    ++state.updates;
    state.position = batcher.position();
    state.sentences += static_cast<int64_t>(indices.size());
    state.target_tokens += result.tokens;
    display_loss += loss_sum;
    display_nll += result.nll.item<double>();
    display_tokens += result.tokens;
    display_sentences += static_cast<int64_t>(indices.size());
    validated_last = false;

    if (o.disp_freq > 0 && state.updates % o.disp_freq == 0) {
      const double seconds = std::chrono::duration<double>(Clock::now() - display_start).count();
      const double loss = display_loss / static_cast<double>(display_tokens);
      const double ppl = std::exp(display_nll / static_cast<double>(display_tokens));
      const double speed = static_cast<double>(display_tokens) / std::max(seconds, 1e-9);
      if (o.verbose) {
        char lr_text[32];
        std::snprintf(lr_text, sizeof(lr_text), "%.2e", lr);
        log << "ep " << state.position.epoch + 1 << " · up " << state.updates << " · sents " << state.sentences
            << " · loss " << format_number(loss, 4) << " · ppl " << format_number(ppl, 2) << " · lr " << lr_text
            << " · " << format_number(speed, 0) << " tok/s · " << format_number(elapsed(), 1) << "s\n";
      }
      json.write("train", {{"epoch", static_cast<double>(state.position.epoch + 1)},
                           {"update", static_cast<double>(state.updates)},
                           {"sentences", static_cast<double>(state.sentences)},
                           {"target_tokens", static_cast<double>(state.target_tokens)},
                           {"loss", loss},
                           {"perplexity", ppl},
                           {"learn_rate", lr},
                           {"target_tokens_per_second", speed},
                           {"seconds", elapsed()}});
      display_loss = display_nll = 0.0;
      display_tokens = display_sentences = 0;
      display_start = Clock::now();
    }
    if (o.valid_freq > 0 && state.updates % o.valid_freq == 0) {
      state.seconds = elapsed();
      if (validator) stop_early = validate();
      validated_last = true;
      save_last();
    }
  }
  state.seconds = elapsed();
  // A validation at the stop would change the early-stopping and plateau
  // counters, and a resumed run would differ from one never stopped: validate
  // here only when periodic validation is off.
  if (!validated_last && validator && o.valid_freq == 0) validate();
  save_last();
  if (interrupted_by_ != 0) {
    log << "interrupted (signal " << interrupted_by_ << ") after " << state.updates << " updates; " << last_path
        << " holds the state: run the same command again to resume\n";
  } else if (o.verbose) {
    log << "stopped after " << state.updates << " updates, " << format_number(state.seconds, 1) << "s"
        << (stop_early ? " (early stopping)" : "") << "; " << last_path << " holds the last state\n";
  }
  return state;
}

}  // namespace tandem::train
