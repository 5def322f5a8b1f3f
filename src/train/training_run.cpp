#include "training_run.h"

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
#include "rank_protocol.h"
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

// The model folder, created and checked writable now (not at the first
// checkpoint hours later).
void make_model_folder(const fs::path& dir) {
  const std::string name = dir.string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(name + ": cannot create the model folder (" + ec.message() + ")");
  const std::string probe = (dir / ".tandem-write-test").string();
  std::ofstream test(probe);
  const bool writable = static_cast<bool>(test << "x" << std::flush);
  test.close();
  std::remove(probe.c_str());
  if (!writable) throw Error(name + ": cannot write in the model folder; check its permissions and free space");
}

}  // namespace

TrainingRun::TrainingRun(const TrainOptions& o, dist::Communicator& comm)
    : o_(o),
      comm_(comm),
      protocol_(comm),
      leader_(comm.rank() == 0),
      verbose_(o.verbose && leader_),
      world_(comm.size()),
      dir_(o.model_dir),
      last_path_((dir_ / "model.ckpt").string()),
      device_(o.device),
      precision_(model::usable_precision(o.precision, o.device, "tandem-train", leader_ ? &log_ : nullptr)),
      scheduler_(o.lr),
      progress_(log_, o.progress && leader_) {
  if (leader_) {
    make_model_folder(dir_);
    folder_lock_.emplace(o.model_dir, log_);  // against a second run in the same folder
  }
  if (o.lm_stream && world_ > 1) {
    throw Error("--lm-stream trains in one process: a stream's columns and carried state are not shared between "
                "workers; run it without a launcher or --num-processes");
  }
  torch::manual_seed(o.seed);
  // Model, vocabularies and state: from the last checkpoint, or new (start.h).
  auto start = start_from(o, comm, dir_, device_, verbose_, log_);
  std::unique_ptr<model::LoadedCheckpoint> resumed = std::move(start.resumed);
  meta_ = std::move(start.meta);
  model_ = start.model;
  language_model_ = meta_.options.is_language_model();
  const auto source_tok = vocab::Tokenizer::from_bytes(meta_.source_vocab, last_path_ + " (source vocabulary)");
  const auto target_tok = vocab::Tokenizer::from_bytes(meta_.target_vocab, last_path_ + " (target vocabulary)");
  data_ = make_data(resumed, source_tok, target_tok);
  state_.corpus_pairs = data_->size();
  state_.cpu_threads = o.cpu_threads;
  state_.world_size = world_;
  state_.optimizer_delay = o.optimizer_delay;
  if (!comm.distributed()) state_.workers.clear();

  if (leader_ && !o.valid_sets.empty()) {
    validator_ = o.lm_stream ? Validator::stream(o.valid_sets.back(), target_tok)
                             : std::make_unique<Validator>(language_model_ ? "" : o.valid_sets.front(),
                                                           o.valid_sets.back(), source_tok, target_tok,
                                                           o.valid_mini_batch, o.valid_beam_size);
    validator_->set_precision(precision_);
    validator_->set_normalize(o.valid_normalize);
  }
  with_bleu_ = std::any_of(o.valid_metrics.begin(), o.valid_metrics.end(), eval::needs_translations);

  // Optimizer, schedule, smoothed weights (rank 0's: it alone validates and saves) and random state.
  optimizer_ = make_optimizer(o.optimizer, model_, scheduler_.rate(state_.updates + 1));
  smoothed_ = std::make_unique<SmoothedWeights>(leader_ ? o.exponential_smoothing : 0.0, model_,
                                                resumed ? resumed->smoothed : std::vector<torch::Tensor>{});
  if (resumed) {
    model::restore_optimizer(*resumed, *optimizer_, last_path_);
    model::restore_random_state(*resumed, last_path_, device_);
    if (!state_.scheduler.empty()) scheduler_.restore(state_.scheduler);
    resumed.reset();
  }
  if (leader_) json_ = std::make_unique<io::JsonLog>((dir_ / "train.log.jsonl").string());
  describe();
  report_ = std::make_unique<TrainReport>(o, log_, verbose_, json_.get(), world_, state_, *data_);
  parameters_ = model_->parameters();
  gradient_sum_ = std::make_unique<GradientSum>(comm, parameters_, o.overlap_all_reduce);
  epochs_seen_ = data_->completed_epochs();
}

// Sentence pairs, or a language model's stream; checked against the resumed checkpoint.
std::unique_ptr<TrainingData> TrainingRun::make_data(const std::unique_ptr<model::LoadedCheckpoint>& resumed,
                                                     const vocab::Tokenizer& source_tok,
                                                     const vocab::Tokenizer& target_tok) {
  std::unique_ptr<TrainingData> data;
  if (o_.lm_stream) {
    auto stream = read_training_stream(o_, target_tok, verbose_, log_);
    auto stream_data = std::make_unique<StreamData>(stream, o_.batching.max_sentences, o_.bptt, state_.position);
    if (resumed) stream_data->restore(meta_.stream_state);
    if (verbose_) {
      const auto& b = stream_data->batches();
      log_ << "stream: " << o_.batching.max_sentences << " columns of " << b.size() / o_.batching.max_sentences
           << " tokens, " << b.segments_per_epoch() << " segments of " << o_.bptt << " steps an epoch\n";
    }
    data = std::move(stream_data);
  } else {
    auto corpus = load_training_corpus(o_, source_tok, target_tok, language_model_, verbose_, log_);
    if (comm_.distributed()) check_same_setup(comm_.all_gather("setup", fingerprint(o_, corpus, world_)));
    // Worker r takes batches r, r + W, r + 2W, ... of the one batch stream.
    const bool same_world = state_.world_size == world_ && state_.workers.size() == static_cast<size_t>(world_);
    const bool own_position = resumed && comm_.distributed() && same_world;
    data = std::make_unique<CorpusData>(
        std::move(corpus), o_.batching, comm_.rank(), world_,
        own_position ? state_.workers[static_cast<size_t>(comm_.rank())] : state_.position, own_position);
  }
  if (resumed && state_.corpus_pairs != data->size()) {
    throw Error("the training " + std::string(o_.lm_stream ? "stream" : "corpus") + " changed since " + last_path_ +
                " was written (" + std::to_string(state_.corpus_pairs) + (o_.lm_stream ? " tokens" : " pairs") +
                " then, " + std::to_string(data->size()) +
                " now); resuming would not continue the same run: restore the files or start a new --model folder");
  }
  return data;
}

void TrainingRun::describe() const {
  if (!verbose_) return;
  int64_t parameters = 0;
  for (const auto& p : model_->parameters()) parameters += p.numel();
  log_ << "model: " << parameters << " parameters, " << (language_model_ ? "language model, " : "")
       << model::cell_type_name(meta_.options.cell()) << ", "
       << model::attention_type_name(meta_.options.attention()) << " attention; device " << device_.str() << "\n";
  if (comm_.connected() || o_.optimizer_delay > 1) {
    log_ << "data-parallel: " << world_ << " worker(s)"
         << (comm_.distributed() ? " (" + comm_.launch().launcher + ")" : "") << " x " << o_.optimizer_delay
         << " mini-batch(es) an update"
         << (comm_.connected() ? "; collectives through " + comm_.backend() : std::string()) << "\n";
    if (!comm_.store_listening().empty()) log_ << "rendezvous store: listening on " << comm_.store_listening() << "\n";
  }
}

void TrainingRun::save_last() {
  state_.scheduler = scheduler_.state();
  meta_.stream_state = data_->carried();
  model::save_checkpoint(last_path_, model_, optimizer_.get(), meta_, device_, smoothed_->for_checkpoint());
}

// A snapshot for averaging (of the smoothed weights, when smoothing): the newest keep_last kept.
void TrainingRun::snapshot() {
  smoothed_->run_with(model_, [&] {
    model::save_checkpoint(snapshot_path(dir_, state_.updates).string(), model_, nullptr, meta_, device_);
  });
  prune_snapshots(dir_, o_.keep_last);
}

bool TrainingRun::validate() {
  std::vector<std::string> translations;
  const bool keep_translations = o_.keep_valid_translations && !language_model_;
  const auto metrics = validator_->run(model_, device_, with_bleu_, keep_translations ? &translations : nullptr);
  ++state_.validations;
  std::ostringstream line;
  line << "valid · up " << state_.updates;
  std::vector<std::pair<std::string, double>> fields{{"update", static_cast<double>(state_.updates)},
                                                     {"seconds", state_.seconds}};
  bool first_improved = false;
  for (size_t m = 0; m < o_.valid_metrics.size(); ++m) {
    const auto metric = o_.valid_metrics[m];
    const std::string name = eval::metric_name(metric);
    const double value = metrics.value(metric);
    const bool improved = improves(metric, value, state_.best);
    if (improved) {
      state_.best[metric] = value;
      state_.scheduler = scheduler_.state();
      model::save_checkpoint((dir_ / ("model.best-" + name + ".ckpt")).string(), model_, nullptr, meta_, device_);
    }
    if (m == 0) first_improved = improved;
    line << " · " << name << " " << eval::fixed_decimals(value, metric == eval::Metric::kPerplexity ? 2 : 4)
         << (improved ? " (new best)" : "");
    fields.emplace_back(name, value);
  }
  state_.stalled = first_improved ? 0 : state_.stalled + 1;
  scheduler_.on_validation(first_improved);
  if (!first_improved) line << " · stalled " << state_.stalled << "x";
  fields.emplace_back("stalled", static_cast<double>(state_.stalled));
  json_->write("valid", fields);
  if (verbose_) log_ << line.str() << "\n";
  if (keep_translations) {
    std::ofstream out(dir_ / "valid.output");
    for (const auto& t : translations) out << t << "\n";
  }
  return o_.early_stopping > 0 && state_.stalled >= o_.early_stopping;
}

// Rank 0 validates (when asked; with smoothing, on the smoothed weights) and
// writes model.ckpt with every worker's position; the others take its outcome,
// so that the schedule and early stopping stay the same everywhere.
bool TrainingRun::sync(bool with_validation) {
  const bool stop = protocol_.sync(state_, data_->position(), with_validation ? "validation" : "the checkpoint", [&] {
    bool early = false;
    if (with_validation && validator_) smoothed_->run_with(model_, [&] { early = validate(); });
    save_last();
    return early;
  });
  if (!leader_ && !state_.scheduler.empty()) scheduler_.restore(state_.scheduler);
  return stop;
}

// An update whose loss or gradient is not finite is skipped (its batches are
// consumed); too many in a row stop training.
TrainingRun::Outcome TrainingRun::skip_update(const std::string& why) {
  ++non_finite_in_a_row_;
  ++state_.skipped_updates;
  progress_.clear();
  if (leader_) std::cerr << "warning: update " << state_.updates + 1 << ": " << why << "; the update is skipped\n";
  if (non_finite_in_a_row_ >= o_.max_nonfinite_updates) {
    throw Error("the loss or gradient was not finite " + std::to_string(non_finite_in_a_row_) +
                " times in a row; lower --learn-rate or check the data. " + last_path_ + " holds the last good state");
  }
  state_.position = data_->position();
  return Outcome::skipped;
}

// One update: the worker's mini-batches (forward, backward: gradients of the
// summed loss accumulate), their sums over the workers, the gradients summed
// over the workers and divided by all of the update's target tokens, clipping,
// a step. Every worker sums the gradients (even one whose loss was not finite:
// the workers' collectives must match).
TrainingRun::Outcome TrainingRun::update() {
  if (comm_.distributed()) torch::manual_seed(update_seed(o_.seed, comm_.rank(), state_.updates + 1));
  const double lr = scheduler_.rate(state_.updates + 1);
  set_learning_rate(*optimizer_, lr);
  optimizer_->zero_grad();
  UpdateSums mine;
  for (int64_t k = 0; k < o_.optimizer_delay; ++k) {
    if (k == o_.optimizer_delay - 1) gradient_sum_->arm();  // the last backward starts the gradients' sums
    const auto [result, sentences] = data_->next(model_, device_, precision_, o_.label_smoothing);
    const double loss_sum = result.loss.item<double>();
    mine.tokens += static_cast<double>(result.tokens);
    mine.sentences += static_cast<double>(sentences);
    if (!std::isfinite(loss_sum)) {
      mine.non_finite += 1;  // the update is skipped; its other mini-batches are consumed all the same
      continue;
    }
    mine.loss += loss_sum;
    mine.nll += result.nll.item<double>();
    result.loss.backward();
  }
  mine.epochs = data_->completed_epochs();
  mine.epoch_ended = mine.epochs > epochs_seen_;
  const auto waited_from = Clock::now();
  gradient_sum_->finish();
  report_->add_communication(std::chrono::duration<double>(Clock::now() - waited_from).count());
  const UpdateSums sums = protocol_.sum(mine);
  report_->add_communication(protocol_.take_seconds_waited());
  if (sums.non_finite > 0) {
    return skip_update("the loss is not finite" +
                       (comm_.distributed() ? " on " + eval::fixed_decimals(sums.non_finite, 0) + " mini-batch(es)"
                                            : std::string()));
  }
  {
    torch::NoGradGuard no_grad;
    for (auto& p : parameters_) p.grad().div_(sums.tokens);
  }
  if (o_.gradient_hook) o_.gradient_hook(model_, state_.updates + 1);
  // The global norm is taken every update (clipping or not): a finite loss can
  // still give an infinite gradient, which would turn every weight into NaN.
  const double norm = torch::nn::utils::clip_grad_norm_(
      parameters_, o_.clip_norm > 0 ? o_.clip_norm : std::numeric_limits<double>::infinity());
  if (!std::isfinite(norm)) return skip_update("the gradient norm is " + std::to_string(norm));
  non_finite_in_a_row_ = 0;
  optimizer_->step();
  smoothed_->update(parameters_, state_.updates);
  ++state_.updates;
  after_update(sums, lr);
  return Outcome::applied;
}

// The bookkeeping of an applied update: counts, report, snapshots, and the
// sync when validation is due (by update count, or at the end of rank 0's epoch).
void TrainingRun::after_update(const UpdateSums& sums, double lr) {
  state_.position = data_->position();
  state_.sentences += static_cast<int64_t>(sums.sentences);
  state_.target_tokens += static_cast<int64_t>(sums.tokens);
  report_->add_update(sums.loss, sums.nll, static_cast<int64_t>(sums.tokens));
  validated_last_ = false;
  if (o_.disp_freq > 0 && state_.updates % o_.disp_freq == 0) {
    progress_.clear();
    report_->display(state_, lr);
    data_->release_pages();  // bounded resident memory
  }
  if (leader_ && o_.keep_last > 0) {
    const int64_t save_freq = o_.save_freq > 0 ? o_.save_freq : o_.valid_freq;
    if (save_freq > 0 && state_.updates % save_freq == 0) snapshot();
  }
  epochs_seen_ = data_->completed_epochs();
  if ((o_.valid_freq > 0 && state_.updates % o_.valid_freq == 0) ||
      (o_.valid_freq_epochs > 0 && sums.epoch_ended && sums.epochs % o_.valid_freq_epochs == 0)) {
    progress_.clear();
    state_.seconds = report_->elapsed();
    stop_early_ = sync(!o_.valid_sets.empty());
    validated_last_ = true;
  }
}

model::TrainState TrainingRun::run() {
  model_->train();
  while (true) {
    // Whether to stop: rank 0's limits (the clock, epochs), anyone's signal.
    const int local_signal = o_.stop_request != nullptr ? o_.stop_request->load() : 0;
    bool stop_here = (o_.after_updates > 0 && state_.updates >= o_.after_updates) || stop_early_ ||
                     (o_.after_epochs > 0 && data_->completed_epochs() >= o_.after_epochs) ||
                     (o_.after_seconds > 0 && report_->elapsed() >= o_.after_seconds);
    const StopVote vote = protocol_.vote(stop_here, local_signal != 0);
    report_->add_communication(protocol_.take_seconds_waited());
    if (vote.interrupted) interrupted_by_ = local_signal != 0 ? local_signal : SIGTERM;
    if (vote.stop) break;
    update();
    if (progress_.enabled()) progress_.show(report_->progress(state_, *data_));
  }
  progress_.clear();
  finish();
  return state_;
}

// A validation at the stop would change the early-stopping and plateau
// counters, and a resumed run would differ from one never stopped: validate
// here only when periodic validation is off.
void TrainingRun::finish() {
  state_.seconds = report_->elapsed();
  sync(!validated_last_ && !o_.valid_sets.empty() && o_.valid_freq == 0 && o_.valid_freq_epochs == 0);
  protocol_.finish();
  if (interrupted_by_ != 0 && leader_) {
    log_ << "interrupted (signal " << interrupted_by_ << ") after " << state_.updates << " updates; " << last_path_
         << " holds the state: run the same command again to resume\n";
  } else if (verbose_) {
    log_ << "stopped after " << state_.updates << " updates, " << eval::fixed_decimals(state_.seconds, 1) << "s"
         << (stop_early_ ? " (early stopping)" : "") << "; " << last_path_ << " holds the last state\n";
  }
}


}  // namespace tandem::train
