#include "tandem/train/trainer.h"

#include <torch/torch.h>

#include <csignal>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>

#include "tandem/error.h"
#include "tandem/eval/score_format.h"
#include "tandem/io/folder_lock.h"
#include "tandem/io/json_log.h"
#include "tandem/util/progress_line.h"
#include "tandem/util/splitmix64.h"
#include "tandem/train/loss.h"
#include "tandem/train/lr_schedule.h"
#include "tandem/train/validator.h"
#include "tandem/vocab/tokenizer.h"
#include "tandem/vocab/vocab_trainer.h"
#include "fused_adam.h"
#include "gradient_sum.h"
#include "report.h"
#include "smoothing.h"
#include "start.h"
#include "training_data.h"

namespace tandem::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::unique_ptr<torch::optim::Optimizer> make_optimizer(OptimizerType type, model::Seq2Seq& model, double lr) {
  if (type == OptimizerType::kSgd) {
    return std::make_unique<torch::optim::SGD>(model->parameters(), torch::optim::SGDOptions(lr));
  }
  return std::make_unique<FusedAdam>(model->parameters(), torch::optim::AdamOptions(lr));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

// The dropout stream of worker `rank` at update `update` (data-parallel runs
// reseed every update, so resuming needs no worker's generator state).
uint64_t update_seed(uint64_t seed, int64_t rank, int64_t update) {
  return util::splitmix64(seed ^ (static_cast<uint64_t>(rank) * util::kGoldenGamma) ^
                          (static_cast<uint64_t>(update) << 20));
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
  const auto& o = options_;
  dist::Communicator single;
  dist::Communicator& comm = o.communicator != nullptr ? *o.communicator : single;
  const bool leader = comm.rank() == 0;  // validates, writes checkpoints and logs
  const bool verbose = o.verbose && leader;
  const int64_t world = comm.size();
  std::ostream& log = std::cerr;
  const fs::path dir(o.model_dir);
  std::optional<io::FolderLock> folder_lock;  // held until this run returns or the process ends
  if (leader) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(o.model_dir + ": cannot create the model folder (" + ec.message() + ")");
    // Find out now, not at the first checkpoint hours later, that the folder is not writable.
    const std::string probe = (dir / ".tandem-write-test").string();
    std::ofstream test(probe);
    const bool writable = static_cast<bool>(test << "x" << std::flush);
    test.close();
    std::remove(probe.c_str());
    if (!writable) throw Error(o.model_dir + ": cannot write in the model folder; check its permissions and free space");
    folder_lock.emplace(o.model_dir, log);
  }
  if (o.lm_stream && world > 1) {
    throw Error("--lm-stream trains in one process: a stream's columns and carried state are not shared between "
                "workers; run it without a launcher or --num-processes");
  }
  const std::string last_path = (dir / "model.ckpt").string();
  const torch::Device device = o.device;
  torch::manual_seed(o.seed);

  // Model, vocabularies and state: from the last checkpoint, or new (start.h).
  auto start = start_from(o, comm, dir, device, verbose, log);
  std::unique_ptr<model::LoadedCheckpoint> resumed = std::move(start.resumed);
  model::CheckpointMeta meta = std::move(start.meta);
  model::Seq2Seq model = start.model;
  model::TrainState& state = meta.state;
  const auto source_tok = vocab::Tokenizer::from_bytes(meta.source_vocab, last_path + " (source vocabulary)");
  const auto target_tok = vocab::Tokenizer::from_bytes(meta.target_vocab, last_path + " (target vocabulary)");

  // Data: sentence pairs, or a language model's stream.
  const bool language_model = meta.options.is_language_model();
  const bool same_world = state.world_size == world && state.workers.size() == static_cast<size_t>(world);
  std::unique_ptr<TrainingData> data;
  if (o.lm_stream) {
    auto stream = read_training_stream(o, target_tok, verbose, log);
    auto stream_data = std::make_unique<StreamData>(stream, o.batching.max_sentences, o.bptt, state.position);
    if (resumed) stream_data->restore(meta.stream_state);
    if (verbose) {
      const auto& b = stream_data->batches();
      log << "stream: " << o.batching.max_sentences << " columns of " << b.size() / o.batching.max_sentences
          << " tokens, " << b.segments_per_epoch() << " segments of " << o.bptt << " steps an epoch\n";
    }
    data = std::move(stream_data);
  } else {
    auto corpus = load_training_corpus(o, source_tok, target_tok, language_model, verbose, log);
    if (comm.distributed()) check_same_setup(comm.all_gather("setup", fingerprint(o, corpus, world)));
    // Worker r takes batches r, r + W, r + 2W, ... of the one batch stream.
    const bool own_position = resumed && comm.distributed() && same_world;
    data = std::make_unique<CorpusData>(
        std::move(corpus), o.batching, comm.rank(), world,
        own_position ? state.workers[static_cast<size_t>(comm.rank())] : state.position, own_position);
  }
  if (resumed && state.corpus_pairs != data->size()) {
    throw Error("the training " + std::string(o.lm_stream ? "stream" : "corpus") + " changed since " + last_path +
                " was written (" + std::to_string(state.corpus_pairs) + (o.lm_stream ? " tokens" : " pairs") +
                " then, " + std::to_string(data->size()) +
                " now); resuming would not continue the same run: restore the files or start a new --model folder");
  }
  state.corpus_pairs = data->size();
  state.cpu_threads = o.cpu_threads;
  state.world_size = world;
  state.optimizer_delay = o.optimizer_delay;
  if (!comm.distributed()) state.workers.clear();

  std::unique_ptr<Validator> validator;
  if (leader && !o.valid_sets.empty()) {
    validator = o.lm_stream ? Validator::stream(o.valid_sets.back(), target_tok)
                            : std::make_unique<Validator>(language_model ? "" : o.valid_sets.front(), o.valid_sets.back(),
                                                          source_tok, target_tok, o.valid_mini_batch, o.valid_beam_size);
    validator->set_precision(o.precision);
  }
  const bool with_bleu = std::any_of(o.valid_metrics.begin(), o.valid_metrics.end(), eval::needs_translations);

  // Optimizer, schedule and random state.
  LrScheduler scheduler(o.lr);
  auto optimizer = make_optimizer(o.optimizer, model, scheduler.rate(state.updates + 1));
  // The smoothed weights (rank 0's: it alone validates and saves).
  SmoothedWeights smoothed(leader ? o.exponential_smoothing : 0.0, model,
                           resumed ? resumed->smoothed : std::vector<torch::Tensor>{});
  if (resumed) {
    model::restore_optimizer(*resumed, *optimizer, last_path);
    model::restore_random_state(*resumed, last_path, device);
    if (!state.scheduler.empty()) scheduler.restore(state.scheduler);
    resumed.reset();
  }
  std::unique_ptr<io::JsonLog> json;
  if (leader) json = std::make_unique<io::JsonLog>((dir / "train.log.jsonl").string());
  int64_t parameters = 0;
  for (const auto& p : model->parameters()) parameters += p.numel();
  if (verbose) {
    log << "model: " << parameters << " parameters, "
        << (language_model ? "language model, " : "")
        << model::cell_type_name(meta.options.cell()) << ", "
        << model::attention_type_name(meta.options.attention()) << " attention; device " << device.str() << "\n";
    if (comm.connected() || o.optimizer_delay > 1) {
      log << "data-parallel: " << world << " worker(s)" << (comm.distributed() ? " (" + comm.launch().launcher + ")" : "")
          << " x " << o.optimizer_delay << " mini-batch(es) an update"
          << (comm.connected() ? "; collectives through " + comm.backend() : std::string()) << "\n";
    }
  }

  const auto save_last = [&] {
    state.scheduler = scheduler.state();
    meta.stream_state = data->carried();
    model::save_checkpoint(last_path, model, optimizer.get(), meta, device, smoothed.for_checkpoint());
  };
  // Snapshots for averaging (of the smoothed weights, when smoothing): the newest keep_last kept.
  const auto snapshot = [&] {
    smoothed.run_with(model, [&] {
      model::save_checkpoint(snapshot_path(dir, state.updates).string(), model, nullptr, meta, device);
    });
    prune_snapshots(dir, o.keep_last);
  };
  const int64_t save_freq = o.save_freq > 0 ? o.save_freq : o.valid_freq;
  const auto validate = [&]() -> bool {  // returns true when early stopping says stop
    std::vector<std::string> translations;
    const bool keep_translations = o.keep_valid_translations && !language_model;
    const auto metrics = validator->run(model, device, with_bleu, keep_translations ? &translations : nullptr);
    ++state.validations;
    std::ostringstream line;
    line << "valid · up " << state.updates;
    std::vector<std::pair<std::string, double>> fields{{"update", static_cast<double>(state.updates)},
                                                       {"seconds", state.seconds}};
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
      line << " · " << name << " " << eval::fixed_decimals(value, metric == eval::Metric::kPerplexity ? 2 : 4)
           << (improved ? " (new best)" : "");
      fields.emplace_back(name, value);
    }
    state.stalled = first_improved ? 0 : state.stalled + 1;
    scheduler.on_validation(first_improved);
    if (!first_improved) line << " · stalled " << state.stalled << "x";
    fields.emplace_back("stalled", static_cast<double>(state.stalled));
    json->write("valid", fields);
    if (verbose) log << line.str() << "\n";
    if (keep_translations) {
      std::ofstream out(dir / "valid.output");
      for (const auto& t : translations) out << t << "\n";
    }
    return o.early_stopping > 0 && state.stalled >= o.early_stopping;
  };
  // Rank 0 validates (when asked) and writes model.ckpt with every worker's
  // position; the others wait, then take its validation outcome, so that the
  // schedule and early stopping stay the same everywhere.
  int64_t syncs = 0;
  const auto validate_and_save = [&](bool with_validation) -> bool {
    const std::string key = "sync/" + std::to_string(++syncs);
    if (comm.distributed()) {
      state.workers.clear();
      const auto position = data->position();
      for (const auto& text : comm.all_gather(key + "/position", std::to_string(position.epoch) + " " +
                                                                     std::to_string(position.index))) {
        data::BatchPosition p;
        std::istringstream(text) >> p.epoch >> p.index;
        state.workers.push_back(p);
      }
    }
    bool stop = false;
    if (leader) {
      // With smoothing, validation and the best checkpoints see the smoothed weights.
      if (with_validation && validator) smoothed.run_with(model, [&] { stop = validate(); });
      save_last();
      comm.publish(key, std::string(stop ? "1" : "0") + state.to_json());
    } else {
      const std::string answer = comm.await(key, with_validation ? "validation" : "the checkpoint");
      const auto outcome = model::TrainState::from_json(answer.substr(1), "rank 0's training state");
      state.best = outcome.best;
      state.stalled = outcome.stalled;
      state.validations = outcome.validations;
      if (!outcome.scheduler.empty()) scheduler.restore(outcome.scheduler);
      stop = answer[0] == '1';
    }
    return stop;
  };

  // The loop. Each update: a vote on stopping, the worker's mini-batches
  // (forward, backward: gradients of the summed loss accumulate), their loss
  // and token counts summed over the workers, the gradients summed over the
  // workers and divided by all of the update's target tokens, clipping, a step.
  model->train();
  TrainReport report(o, log, verbose, json.get(), world, state, *data);
  util::ProgressLine progress(log, o.progress && leader);
  int64_t non_finite_in_a_row = 0;
  bool stop_early = false;
  bool validated_last = false;
  // An update whose loss or gradient is not finite is skipped (its batches are
  // consumed); too many in a row stop training.
  const auto skip_update = [&](const std::string& why) {
    ++non_finite_in_a_row;
    ++state.skipped_updates;
    progress.clear();
    if (leader) std::cerr << "warning: update " << state.updates + 1 << ": " << why << "; the update is skipped\n";
    if (non_finite_in_a_row >= o.max_nonfinite_updates) {
      throw Error("the loss or gradient was not finite " + std::to_string(non_finite_in_a_row) +
                  " times in a row; lower --learn-rate or check the data. " + last_path + " holds the last good state");
    }
    state.position = data->position();
  };
  const auto timed_all_reduce = [&](const std::vector<torch::Tensor>& tensors, const char* what) {
    const auto start = Clock::now();
    comm.all_reduce_sum(tensors, what);
    report.add_communication(std::chrono::duration<double>(Clock::now() - start).count());
  };
  std::vector<torch::Tensor> parameters_list = model->parameters();
  GradientSum gradient_sum(comm, parameters_list, o.overlap_all_reduce);
  int64_t epochs_seen = data->completed_epochs();
  while (true) {
    // Whether to stop: rank 0's clock and epoch count, anyone's signal.
    {
      const int local_signal = o.stop_request != nullptr ? o.stop_request->load() : 0;
      auto votes = torch::zeros({2}, torch::kFloat64);
      bool stop_now = (o.after_updates > 0 && state.updates >= o.after_updates) || stop_early;
      if (leader) {
        stop_now = stop_now || (o.after_epochs > 0 && data->completed_epochs() >= o.after_epochs) ||
                   (o.after_seconds > 0 && report.elapsed() >= o.after_seconds);
      }
      votes[0] = stop_now ? 1.0 : 0.0;
      votes[1] = local_signal != 0 ? 1.0 : 0.0;
      if (comm.connected()) timed_all_reduce({votes}, "the vote on stopping");
      if (votes[1].item<double>() > 0) {
        interrupted_by_ = local_signal != 0 ? local_signal : SIGTERM;
        break;
      }
      if (votes[0].item<double>() > 0) break;
    }
    if (comm.distributed()) torch::manual_seed(update_seed(o.seed, comm.rank(), state.updates + 1));

    const double lr = scheduler.rate(state.updates + 1);
    set_learning_rate(*optimizer, lr);
    optimizer->zero_grad();
    // Sums over this worker's mini-batches: loss, nll, target tokens, sentences, non-finite losses.
    auto stats = torch::zeros({5}, torch::kFloat64);
    auto* sums = stats.data_ptr<double>();
    for (int64_t k = 0; k < o.optimizer_delay; ++k) {
      if (k == o.optimizer_delay - 1) gradient_sum.arm();  // the last backward starts the gradients' sums
      const auto [result, sentences] = data->next(model, device, o.precision, o.label_smoothing);
      const double loss_sum = result.loss.item<double>();
      sums[2] += static_cast<double>(result.tokens);
      sums[3] += static_cast<double>(sentences);
      if (!std::isfinite(loss_sum)) {
        sums[4] += 1;  // the update is skipped; its other mini-batches are consumed all the same
        continue;
      }
      sums[0] += loss_sum;
      sums[1] += result.nll.item<double>();
      result.loss.backward();
    }
    // Every worker sums the gradients (even one whose loss was not finite: the
    // workers' collectives must match), then the losses.
    {
      const auto waited_from = Clock::now();
      gradient_sum.finish();
      report.add_communication(std::chrono::duration<double>(Clock::now() - waited_from).count());
    }
    if (comm.connected()) timed_all_reduce({stats}, "the sum of the losses");
    if (sums[4] > 0) {
      skip_update("the loss is not finite" +
                  (comm.distributed() ? " on " + eval::fixed_decimals(sums[4], 0) + " mini-batch(es)" : std::string()));
      continue;
    }
    const double tokens = sums[2];
    std::vector<torch::Tensor> gradients;
    gradients.reserve(parameters_list.size());
    for (auto& p : parameters_list) gradients.push_back(p.grad());
    {
      torch::NoGradGuard no_grad;
      for (auto& g : gradients) g.div_(tokens);
    }
    if (o.gradient_hook) o.gradient_hook(model, state.updates + 1);
    // The global norm is taken every update (clipping or not): a finite loss can
    // still give an infinite gradient, which would turn every weight into NaN.
    const double norm = torch::nn::utils::clip_grad_norm_(
        parameters_list, o.clip_norm > 0 ? o.clip_norm : std::numeric_limits<double>::infinity());
    if (!std::isfinite(norm)) {
      skip_update("the gradient norm is " + std::to_string(norm));
      continue;
    }
    non_finite_in_a_row = 0;
    optimizer->step();
    smoothed.update(parameters_list, state.updates);
    ++state.updates;
    state.position = data->position();
    state.sentences += static_cast<int64_t>(sums[3]);
    state.target_tokens += static_cast<int64_t>(tokens);
    report.add_update(sums[0], sums[1], static_cast<int64_t>(tokens));
    validated_last = false;
    if (progress.enabled()) progress.show(report.progress(state, *data));
    if (o.disp_freq > 0 && state.updates % o.disp_freq == 0) {
      progress.clear();
      report.display(state, lr);
      data->release_pages();  // bounded resident memory
    }
    if (leader && o.keep_last > 0 && save_freq > 0 && state.updates % save_freq == 0) snapshot();
    const int64_t epochs_done = data->completed_epochs();
    const bool epoch_ended = epochs_done > epochs_seen;
    epochs_seen = epochs_done;
    if ((o.valid_freq > 0 && state.updates % o.valid_freq == 0) ||
        (o.valid_freq_epochs > 0 && epoch_ended && epochs_done % o.valid_freq_epochs == 0)) {
      progress.clear();
      state.seconds = report.elapsed();
      stop_early = validate_and_save(!o.valid_sets.empty());
      validated_last = true;
    }
  }
  progress.clear();
  state.seconds = report.elapsed();
  // A validation at the stop would change the early-stopping and plateau
  // counters, and a resumed run would differ from one never stopped: validate
  // here only when periodic validation is off.
  validate_and_save(!validated_last && !o.valid_sets.empty() && o.valid_freq == 0 && o.valid_freq_epochs == 0);
  comm.barrier("the last checkpoint");
  if (interrupted_by_ != 0 && leader) {
    log << "interrupted (signal " << interrupted_by_ << ") after " << state.updates << " updates; " << last_path
        << " holds the state: run the same command again to resume\n";
  } else if (verbose) {
    log << "stopped after " << state.updates << " updates, " << eval::fixed_decimals(state.seconds, 1) << "s"
        << (stop_early ? " (early stopping)" : "") << "; " << last_path << " holds the last state\n";
  }
  return state;
}

}  // namespace tandem::train
