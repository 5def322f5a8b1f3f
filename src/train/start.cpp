#include "start.h"

#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tandem/error.h"
#include "tandem/eval/score_format.h"
#include "tandem/io/read_file.h"
#include "tandem/vocab/tokenizer.h"
#include "tandem/vocab/vocab_trainer.h"

namespace tandem::train {
namespace {

namespace fs = std::filesystem;

using io::read_file;

// The value of architecture option `name` (as tandem-train names it) in `m`,
// written as the command line writes it.
std::string architecture_value(const model::ModelOptions& m, const std::string& name) {
  if (name == "type") return model::model_type_name(m.type());
  if (name == "cell") return model::cell_type_name(m.cell());
  if (name == "dim-emb") return std::to_string(m.dim_emb());
  if (name == "dim-rnn") return std::to_string(m.dim_rnn());
  if (name == "enc-depth") return std::to_string(m.enc_depth());
  if (name == "dec-depth") return std::to_string(m.dec_depth());
  if (name == "enc-type") return m.bidirectional() ? "bidirectional" : "unidirectional";
  if (name == "attention") return model::attention_type_name(m.attention());
  if (name == "dec-init") return model::decoder_init_name(m.decoder_init());
  if (name == "tied-embeddings") return m.tied_output() ? "true" : "false";
  if (name == "deep-output") return m.deep_output() ? "true" : "false";
  if (name == "tied-embeddings-src") return m.shared_embeddings() ? "true" : "false";
  if (name == "layer-normalization") return m.layer_norm() ? "true" : "false";
  if (name == "dec-cell-base-depth") return std::to_string(m.dec_cell_base_depth());
  if (name == "enc-cell-depth") return std::to_string(m.enc_cell_depth());
  if (name == "dim-vocabs") return std::to_string(m.target_vocab());
  throw std::logic_error("architecture_value: unknown option " + name);
}

// Fine-tuning (--pretrained-model): the checkpoint's architecture, vocabularies
// and weights (its smoothed weights when it kept them), this run's dropout.
// An option given for this run that would change a shape is an error naming
// it and both values.
void start_from_pretrained(const TrainOptions& o, torch::Device device, bool verbose, std::ostream& log,
                           model::CheckpointMeta& meta, model::Seq2Seq& model) {
  const std::string& path = o.pretrained_model;
  if (!fs::exists(path)) throw Error("--pretrained-model " + path + ": no such file");
  auto pre = model::load_checkpoint(path, device);
  auto given = o.given_architecture;
  given.insert(given.begin(), "type");  // always: --type lm fine-tunes a language model only
  for (const auto& name : given) {
    model::ModelOptions mine = o.model;
    mine.target_vocab(o.vocab_size);
    const std::string wanted = architecture_value(mine, name);
    const std::string have = architecture_value(pre.meta.options, name);
    if (wanted != have) {
      throw Error("--" + name + " " + wanted + " differs from the pretrained model's " + have + " (" + path +
                  "): fine-tuning keeps the model's shapes; leave --" + name + " out or give " + have);
    }
  }
  for (size_t i = 0; i < o.vocabs.size(); ++i) {
    const bool source_side = i == 0 && o.vocabs.size() == 2;
    const std::string& theirs = source_side ? pre.meta.source_vocab : pre.meta.target_vocab;
    if (vocab::Tokenizer::load(o.vocabs[i]).model_bytes() != theirs ||
        (o.vocabs.size() == 1 && pre.meta.source_vocab != pre.meta.target_vocab)) {
      throw Error("--vocabs " + o.vocabs[i] + " is not the " + (o.vocabs.size() == 2 ? (source_side ? "source " : "target ") : "") +
                  "vocabulary of the pretrained model " + path +
                  ": fine-tuning keeps the model's vocabularies (they are in the checkpoint); leave --vocabs out");
    }
  }
  meta.options = pre.meta.options;
  meta.options.dropout_emb(o.model.dropout_emb()).dropout_rnn(o.model.dropout_rnn()).dropout_out(o.model.dropout_out())
      .dropout_src(o.model.dropout_src()).dropout_trg(o.model.dropout_trg());
  meta.source_vocab = pre.meta.source_vocab;
  meta.target_vocab = pre.meta.target_vocab;
  meta.state.pretrained_from = path + " (update " + std::to_string(pre.meta.state.updates) + ")";
  model = model::Seq2Seq(meta.options);
  model->to(device);
  {
    torch::NoGradGuard no_grad;
    const auto from = pre.model->parameters();
    auto to = model->parameters();
    const bool smoothed = pre.smoothed.size() == to.size();
    for (size_t i = 0; i < to.size(); ++i) to[i].copy_(smoothed ? pre.smoothed[i] : from[i]);
    const auto buffers_from = pre.model->buffers();
    auto buffers_to = model->buffers();
    for (size_t i = 0; i < buffers_to.size() && i < buffers_from.size(); ++i) buffers_to[i].copy_(buffers_from[i]);
    if (verbose) {
      log << "fine-tuning from " << meta.state.pretrained_from << ": its architecture, vocabularies and "
          << (smoothed ? "smoothed " : "") << "weights; a new optimizer, schedule and data\n";
    }
  }
}

}  // namespace

StartingPoint start_from(const TrainOptions& o, dist::Communicator& comm, const fs::path& dir, torch::Device device,
                         bool verbose, std::ostream& log) {
  const bool leader = comm.rank() == 0;
  const int64_t world = comm.size();
  const std::string last_path = (dir / "model.ckpt").string();
  StartingPoint start;
  auto& resumed = start.resumed;
  auto& meta = start.meta;
  auto& model = start.model;
  std::string shared;  // distributed: 'R' + checkpoint (resume) or 'N' + new model
  if (leader && fs::exists(last_path)) {
    if (comm.distributed()) {
      shared = "R" + read_file(last_path);
      resumed = std::make_unique<model::LoadedCheckpoint>(
          model::load_checkpoint_bytes(shared.substr(1), last_path, device));
    } else {
      resumed = std::make_unique<model::LoadedCheckpoint>(model::load_checkpoint(last_path, device));
    }
  } else if (leader && !o.pretrained_model.empty()) {
    start_from_pretrained(o, device, verbose, log, meta, model);
    if (comm.distributed()) shared = "N" + model::checkpoint_bytes(last_path, model, nullptr, meta, device);
  } else if (leader) {
    std::vector<std::string> vocab_paths = o.vocabs;
    if (vocab_paths.empty()) {
      const std::string trained = (dir / "vocab.spm").string();
      if (!fs::exists(trained)) {
        vocab::VocabOptions vocab_options;
        vocab_options.inputs = o.train_sets;
        vocab_options.vocab_size = o.vocab_size;
        if (verbose) log << "training a joint vocabulary of " << o.vocab_size << " pieces into " << trained << "\n";
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
    if (o.init_range > 0) {  // every weight uniform in [-R, R] (Zaremba et al.'s initialization)
      torch::NoGradGuard no_grad;
      for (auto& p : model->parameters()) p.uniform_(-o.init_range, o.init_range);
    }
    model->to(device);
    if (comm.distributed()) shared = "N" + model::checkpoint_bytes(last_path, model, nullptr, meta, device);
  }
  if (comm.distributed()) {
    comm.broadcast_bytes(shared, "sending rank 0's model to every worker");
    if (!leader) {
      const std::string origin = "rank 0's " + last_path;
      auto received =
          std::make_unique<model::LoadedCheckpoint>(model::load_checkpoint_bytes(shared.substr(1), origin, device));
      if (shared[0] == 'R') {
        resumed = std::move(received);
      } else {
        meta = received->meta;
        model = received->model;
      }
    }
    shared = std::string();
  }
  if (resumed) {
    meta = resumed->meta;
    model = resumed->model;
    if (meta.options.type() != o.model.type()) {
      throw Error(last_path + ": a " + model::model_type_name(meta.options.type()) +
                  " checkpoint, but this run trains --type " + model::model_type_name(o.model.type()) +
                  "; use another --model folder or the checkpoint's --type");
    }
    if (verbose) {
      log << "resuming from " << last_path << " at update " << meta.state.updates << " (epoch "
          << meta.state.position.epoch + 1 << "); the architecture is the checkpoint's\n";
      if (!meta.state.pretrained_from.empty() && !o.pretrained_model.empty()) {
        log << "note: this run fine-tunes " << meta.state.pretrained_from
            << "; --pretrained-model counts only when a run starts\n";
      }
    }
    const int64_t saved_threads = meta.state.cpu_threads;
    if (verbose && saved_threads > 0 && o.cpu_threads > 0 && saved_threads != o.cpu_threads) {
      log << "warning: " << last_path << " was written by a run with " << saved_threads << " CPU threads and this one has "
          << o.cpu_threads << "; training continues, but sums over threads round differently, so the run matches "
          << "one never stopped only approximately (resume with --cpu-threads " << saved_threads << " for exactness)\n";
    }
    if (verbose && (meta.state.world_size != world || meta.state.optimizer_delay != o.optimizer_delay)) {
      log << "note: " << last_path << " was written by " << meta.state.world_size << " worker(s) with --optimizer-delay "
          << meta.state.optimizer_delay << " and this run has " << world << " with " << o.optimizer_delay
          << "; training continues from where the batches of all workers stood (epoch "
          << meta.state.position.epoch + 1 << ", batch " << meta.state.position.index + 1
          << "), but the batches now form other updates, so the run differs from one never stopped\n";
    }
  }
  return start;
}

// What every worker of a run must agree on, one "name: value" line each.
std::string fingerprint(const TrainOptions& o, const data::ParallelCorpus& corpus, int64_t world_size) {
  std::ostringstream f;
  f << "world size: " << world_size << "\n";
  f << "model options (--type, --cell, --dim-*, ...): " << o.model.to_json() << "\n";
  for (const auto& path : o.vocabs) {
    f << "--vocabs " << path << ": " << std::hash<std::string>{}(read_file(path)) << "\n";
  }
  f << "training corpus (--train-sets): " << corpus.report().summary() << "\n";
  f << "--mini-batch, --mini-batch-tokens, --maxi-batch, --no-shuffle, --seed: " << o.batching.max_sentences << " "
    << o.batching.max_tokens << " " << o.batching.window << " " << o.batching.shuffle << " " << o.batching.seed << "\n";
  f << "--optimizer-delay: " << o.optimizer_delay << "\n";
  f << "--optim, --learn-rate, --lr-schedule, --lr-warmup, --lr-decay, --lr-patience, --lr-min: "
    << static_cast<int>(o.optimizer) << " " << o.lr.base << " "
    << static_cast<int>(o.lr.type) << " " << o.lr.warmup << " " << o.lr.decay << " " << o.lr.patience << " "
    << o.lr.minimum << "\n";
  f << "--clip-norm, --label-smoothing: " << o.clip_norm << " " << o.label_smoothing << "\n";
  f << "--max-nonfinite-updates: " << o.max_nonfinite_updates << "\n";
  f << "--max-length: " << o.max_length << "\n";
  f << "--after-epochs, --after-updates, --after-time: " << o.after_epochs << " " << o.after_updates << " "
    << o.after_seconds << "\n";
  f << "--valid-freq, --save-freq (when the workers meet to save): " << o.valid_freq << " " << o.valid_freq_epochs
    << " " << o.save_freq << "\n";
  f << "--pretrained-model: " << o.pretrained_model << "\n";
  f << "--lm-stream, --bptt, --init-range: " << o.lm_stream << " " << o.bptt << " " << o.init_range << "\n";
  f << "--device: " << (o.device.is_cuda() ? "cuda" : "cpu") << "\n";
  f << "--precision: " << model::precision_name(o.precision) << "\n";
  f << "--all-reduce-overlap: " << o.overlap_all_reduce << "\n";
  f << "--distributed-backend: " << (o.communicator != nullptr ? o.communicator->backend() : "none") << "\n";
  return f.str();
}

// Throws when a worker's fingerprint differs from rank 0's, naming the rank and the line.
void check_same_setup(const std::vector<std::string>& fingerprints) {
  const auto lines = [](const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  };
  const auto reference = lines(fingerprints.front());
  for (size_t r = 1; r < fingerprints.size(); ++r) {
    const auto other = lines(fingerprints[r]);
    for (size_t i = 0; i < std::max(reference.size(), other.size()); ++i) {
      const std::string a = i < reference.size() ? reference[i] : "(none)";
      const std::string b = i < other.size() ? other[i] : "(none)";
      if (a == b) continue;
      throw Error("the workers were not started alike: rank " + std::to_string(r) + " has '" + b + "' where rank 0 has '" +
                  a + "'; give every worker the same options and the same files");
    }
  }
}

data::ParallelCorpus load_training_corpus(const TrainOptions& o, const vocab::Tokenizer& source,
                                          const vocab::Tokenizer& target, bool language_model, bool verbose,
                                          std::ostream& log) {
  data::CorpusOptions options;
  options.source_path = language_model ? "" : o.train_sets[0];  // empty: monolingual
  options.target_path = o.train_sets.back();
  const bool characters = source.is_character_level() && target.is_character_level();
  options.max_length = o.max_length >= 0 ? o.max_length : characters ? kDefaultCharacterMaxLength : kDefaultMaxLength;
  if (verbose && o.max_length < 0) {
    log << "max length: " << options.max_length << " pieces" << (characters ? " (a character vocabulary)" : "") << "\n";
  }
  options.skip_invalid_utf8 = o.skip_invalid_utf8;
  if (o.data_cache != "none") options.cache_folder = o.data_cache.empty() ? o.model_dir : o.data_cache;
  const auto load_start = std::chrono::steady_clock::now();
  auto corpus = data::ParallelCorpus::load(options, source, target);
  if (verbose) {
    log << "train corpus: " << corpus.report().summary() << "\n";
    if (!corpus.cache_path().empty()) {
      const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - load_start;
      log << "token id cache: " << corpus.cache_path() << " (" << corpus.cache_status() << ", "
          << eval::fixed_decimals(seconds.count(), 1) << "s)\n";
    }
  }
  if (corpus.size() == 0) {
    throw Error(language_model ? "no usable training sentence is left in " + o.train_sets.front()
                               : "no usable training pair is left in " + o.train_sets[0] + " / " + o.train_sets[1]);
  }
  return corpus;
}

data::TokenStream read_training_stream(const TrainOptions& o, const vocab::Tokenizer& tokenizer, bool verbose,
                                       std::ostream& log) {
  auto stream = data::read_token_stream(o.train_sets.front(), tokenizer);
  if (stream.predicted() == stream.lines) {
    throw Error(o.train_sets.front() + ": no text to train on (" + std::to_string(stream.lines) + " empty lines)");
  }
  if (verbose) {
    log << "train stream: " << o.train_sets.front() << ", " << stream.lines << " lines, " << stream.predicted()
        << " tokens with one eos a line";
    if (stream.unknown > 0) log << ", " << stream.unknown << " unknown";
    log << "\n";
  }
  return stream;
}

}  // namespace tandem::train
