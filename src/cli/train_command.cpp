// tandem-train: trains a model; options on the command line or in an INI file.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/config_file.h"
#include "cli/local_launcher.h"
#include "cli/option_parsers.h"
#include "tandem/dist/communicator.h"
#include "tandem/error.h"
#include "tandem/train/trainer.h"
#include "tandem/util/allocator.h"
#include "tandem/util/cpu_threads.h"

namespace tandem::cli {
namespace {

constexpr const char* kProgram = "tandem-train";
constexpr const char* kUsage =
    "Usage: tandem-train --model DIR --train-sets SRC TGT [--valid-sets SRC TGT] [options]\n"
    "       tandem-train --type lm --model DIR --train-sets FILE [--valid-sets FILE] [options]\n"
    "Trains a recurrent encoder-decoder with attention, or (--type lm) a recurrent language model. Running it again on a DIR that\n"
    "holds model.ckpt resumes exactly where it stopped. Options may also come from an\n"
    "INI file (--config FILE [FILE...], 'name = value' lines, 'include = BASE.ini' to start from another\n"
    "file); a later file wins over an earlier one, a file's own lines over what it includes, the command\n"
    "line over all.\n"
    "Example: tandem-train --model m --train-sets train.en.gz train.de.gz \\\n"
    "           --valid-sets val.en.gz val.de.gz --cell gru --attention bahdanau --after-epochs 10\n"
    "Several workers: add --num-processes N on one machine, or launch it with torchrun, mpirun or srun\n"
    "(RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT and the like); W workers update as one process with\n"
    "--optimizer-delay W would.";

// --valid-freq N (updates) or Ne (epochs).
void parse_valid_freq(const std::string& text, train::TrainOptions& t) {
  const bool epochs = !text.empty() && text.back() == 'e';
  const std::string digits = epochs ? text.substr(0, text.size() - 1) : text;
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 12) {
    throw Error("--valid-freq '" + text + "': give updates (1000) or epochs with the suffix e (1e)");
  }
  const int64_t value = std::stoll(digits);
  t.valid_freq = epochs ? 0 : value;
  t.valid_freq_epochs = epochs ? value : 0;
}

// String forms of the enum-valued options, filled by Boost and parsed after.
struct RawOptions {
  std::string type = "s2s";
  std::string cell = "gru";
  std::string enc_type = "bidirectional";
  std::string attention = "bahdanau";
  std::string dec_init = "bridge";
  std::string optimizer = "adam";
  std::string lr_schedule = "constant";
  std::string device = "cpu";
  std::string precision = "float32";
  std::vector<std::string> valid_metrics{"cross-entropy", "perplexity", "bleu"};
  double after_minutes = 0.0;
  bool no_shuffle = false;
  bool tied_embeddings = true;
  int threads = 0;
  int num_processes = 1;
  double distributed_timeout = 300.0;
  std::string distributed_interface;
  std::string distributed_backend = "auto";
  std::string valid_freq = "1000";
};

po::options_description describe(train::TrainOptions& t, model::ModelOptions& m, RawOptions& r) {
  po::options_description general("General");
  general.add_options()
      ("help,h", "show this help")
      ("config,c", po::value<std::vector<std::string>>()->multitoken(),
       "INI files with options (name = value): a later file wins over an earlier one, the command line over "
       "all; a file may start from another with a line 'include = FILE' (its path relative to the including "
       "file; the including file's own lines win)")
      ("dump-config", "print the effective configuration as INI and exit")
      ("model,m", po::value<std::string>(&t.model_dir), "model folder (checkpoints, logs); resumes when it holds one")
      ("device", po::value<std::string>(&r.device)->default_value(r.device), "cpu, cuda or cuda:N")
      ("seed", po::value<uint64_t>(&t.seed)->default_value(t.seed), "seed of initialisation, dropout and shuffling")
      ("quiet", "nothing on standard error but warnings and errors");
  add_precision_option(general, &r.precision);
  add_cpu_threads_option(general, &r.threads);

  po::options_description data("Data");
  data.add_options()
      ("train-sets,t", po::value<std::vector<std::string>>(&t.train_sets)->multitoken(),
       "source and target files (plain or .gz); one file with --type lm")
      ("valid-sets", po::value<std::vector<std::string>>(&t.valid_sets)->multitoken(),
       "validation source and target files; one file with --type lm")
      ("vocabs,v", po::value<std::vector<std::string>>(&t.vocabs)->multitoken(),
       "SentencePiece model(s): one joint or source and target; none = train a joint one into the model folder")
      ("dim-vocabs", po::value<int32_t>(&t.vocab_size)->default_value(t.vocab_size), "pieces of a vocabulary trained here")
      ("max-length", po::value<int64_t>(&t.max_length)->default_value(t.max_length, "100, or 400 for characters"),
       "skip pairs with a side longer than this (pieces); 0 = no limit")
      ("skip-invalid-utf8", po::bool_switch(&t.skip_invalid_utf8), "skip and count pairs with invalid UTF-8")
      ("data-cache", po::value<std::string>(&t.data_cache),
       "folder of the tokenized training corpus (memory-mapped, rebuilt when the text or vocabulary changes); "
       "default: the model folder; 'none' = tokenize into memory")
      ("mini-batch", po::value<int64_t>(&t.batching.max_sentences)->default_value(t.batching.max_sentences), "sentence pairs per batch at most")
      ("mini-batch-tokens", po::value<int64_t>(&t.batching.max_tokens)->default_value(t.batching.max_tokens), "padded tokens per batch at most; 0 = no limit")
      ("maxi-batch", po::value<int64_t>(&t.batching.window)->default_value(t.batching.window), "sort by length within this many batches")
      ("no-shuffle", po::bool_switch(&r.no_shuffle), "keep corpus order");

  po::options_description model("Model (ignored when resuming)");
  model.add_options()
      ("type", po::value<std::string>(&r.type)->default_value(r.type),
       "s2s (translation, --train-sets SRC TGT) or lm (language model, --train-sets FILE; no encoder, "
       "no attention, validated by cross-entropy and perplexity)")
      ("cell", po::value<std::string>(&r.cell)->default_value(r.cell), "rnn (tanh), gru or lstm")
      ("dim-emb", po::value<int64_t>(&m.dim_emb())->default_value(m.dim_emb()), "embedding width")
      ("dim-rnn", po::value<int64_t>(&m.dim_rnn())->default_value(m.dim_rnn()), "recurrent state width (per direction)")
      ("enc-depth", po::value<int64_t>(&m.enc_depth())->default_value(m.enc_depth()), "encoder layers")
      ("dec-depth", po::value<int64_t>(&m.dec_depth())->default_value(m.dec_depth()), "decoder layers")
      ("enc-type", po::value<std::string>(&r.enc_type)->default_value(r.enc_type), "bidirectional or unidirectional")
      ("attention", po::value<std::string>(&r.attention)->default_value(r.attention), "bahdanau, luong-dot, luong-general or none")
      ("dec-init", po::value<std::string>(&r.dec_init)->default_value(r.dec_init), "bridge (learned, from the encoder) or zeros")
      ("tied-embeddings", po::value<bool>(&r.tied_embeddings)->default_value(true), "output layer reuses the target embeddings")
      ("deep-output", po::value<bool>(&m.deep_output())->default_value(true),
       "a feature layer between the decoder state and the output layer; false: the state itself (--attention none, "
       "--dim-rnn = --dim-emb; the LM benchmarks' models)")
      ("tied-embeddings-src", po::bool_switch(&m.shared_embeddings()), "one embedding matrix for both sides (joint vocabulary)")
      ("dec-cell-base-depth", po::value<int64_t>(&m.dec_cell_base_depth())->default_value(m.dec_cell_base_depth()),
       "transitions of the decoder's conditional cell: 2 or more = Nematus's and Marian's cGRU (a transition on the "
       "previous token, attention from its state, then transitions reading the context); needs --attention bahdanau")
      ("enc-cell-depth", po::value<int64_t>(&m.enc_cell_depth())->default_value(m.enc_cell_depth()),
       "cells a step in each encoder layer: the layer's cell, then transitions on the state alone (deep transition)")
      ("layer-normalization", po::bool_switch(&m.layer_norm()),
       "layer normalization inside the recurrent cells (each step's input and recurrent products, as Marian's)")
      ("dropout-emb", defaulted(&m.dropout_emb()), "dropout on embeddings")
      ("dropout-rnn", defaulted(&m.dropout_rnn()), "dropout between recurrent layers")
      ("dropout-out", defaulted(&m.dropout_out()), "dropout before the output layer")
      ("dropout-src", defaulted(&m.dropout_src()),
       "word dropout: zero a whole source word's embedding with this probability")
      ("dropout-trg", defaulted(&m.dropout_trg()), "word dropout on the decoder's input words (previous target words)")
      ("init-range", defaulted(&t.init_range), "draw every weight of a new model from [-R, R]; 0 = Tandem's initialization")
      ("pretrained-model", po::value<std::string>(&t.pretrained_model),
       "fine-tune: a new run (a --model folder without model.ckpt) starts from this checkpoint's weights, "
       "architecture and vocabularies, with this run's data, optimizer and dropout; architecture options given "
       "must equal the checkpoint's");

  po::options_description training("Training");
  training.add_options()
      ("optim", po::value<std::string>(&r.optimizer)->default_value(r.optimizer), "adam or sgd")
      ("learn-rate,l", defaulted(&t.lr.base), "learning rate")
      ("lr-schedule", po::value<std::string>(&r.lr_schedule)->default_value(r.lr_schedule), "constant, inverse-sqrt or plateau")
      ("lr-warmup", po::value<int64_t>(&t.lr.warmup)->default_value(t.lr.warmup), "updates of linear warm-up")
      ("lr-decay", defaulted(&t.lr.decay), "plateau: factor per decay")
      ("lr-patience", po::value<int64_t>(&t.lr.patience)->default_value(t.lr.patience), "plateau: validations without improvement before a decay")
      ("lr-min", defaulted(&t.lr.minimum), "lowest learning rate")
      ("clip-norm", defaulted(&t.clip_norm), "clip gradients to this global norm; 0 = off")
      ("label-smoothing", defaulted(&t.label_smoothing), "label smoothing")
      ("after-epochs,e", po::value<int64_t>(&t.after_epochs)->default_value(0), "stop after this many epochs; 0 = no limit")
      ("after-updates", po::value<int64_t>(&t.after_updates)->default_value(0), "stop after this many updates; 0 = no limit")
      ("after-time", defaulted(&r.after_minutes), "stop after this many minutes; 0 = no limit")
      ("early-stopping", po::value<int64_t>(&t.early_stopping)->default_value(t.early_stopping), "stop after this many validations without improvement; 0 = never")
      ("valid-freq", po::value<std::string>(&r.valid_freq)->default_value(r.valid_freq),
       "validate and save every this many updates, or with a suffix e at the end of every this many epochs (1e)")
      ("disp-freq", po::value<int64_t>(&t.disp_freq)->default_value(t.disp_freq), "log every this many updates")
      ("valid-metrics", po::value<std::vector<std::string>>(&r.valid_metrics)->multitoken(),
       "cross-entropy, perplexity, bleu, chrf; the first decides early stopping (default: the first three)")
      ("valid-mini-batch", po::value<int64_t>(&t.valid_mini_batch)->default_value(t.valid_mini_batch), "sentences per validation batch")
      ("valid-beam-size", po::value<int64_t>(&t.valid_beam_size)->default_value(t.valid_beam_size),
       "beam size of the validation translations")
      ("valid-normalize", defaulted(&t.valid_normalize),
       "length normalization of the validation translations: scores divided by length^ALPHA, as in "
       "tandem-translate (0 = off)")
      ("exponential-smoothing", defaulted(&t.exponential_smoothing),
       "smooth the weights: after each update smoothed += FACTOR x (weights - smoothed); validated and saved as "
       "best (Marian uses 1e-4); 0 = off")
      ("keep-last", po::value<int64_t>(&t.keep_last)->default_value(t.keep_last),
       "keep the newest N snapshots model.iter-UPDATES.ckpt, for tandem-average; 0 = none")
      ("save-freq", po::value<int64_t>(&t.save_freq)->default_value(t.save_freq),
       "updates between snapshots; 0 = --valid-freq")
      ("optimizer-delay", po::value<int64_t>(&t.optimizer_delay)->default_value(t.optimizer_delay),
       "sum the gradients of this many mini-batches (per worker) into one update")
      ("lm-stream", po::bool_switch(&t.lm_stream),
       "--type lm: train on the text as one stream (an eos after each line), cut into --mini-batch columns, the "
       "state carried across updates; validation scores the file as one stream")
      ("bptt", po::value<int64_t>(&t.bptt)->default_value(t.bptt), "--lm-stream: steps of truncated backpropagation an update")
      ("max-nonfinite-updates", po::value<int64_t>(&t.max_nonfinite_updates)->default_value(t.max_nonfinite_updates),
       "stop after this many updates in a row with a NaN or infinite loss (each is skipped)");

  po::options_description distributed("Data-parallel training (several processes, GPUs or machines)");
  distributed.add_options()
      ("num-processes", po::value<int>(&r.num_processes)->default_value(r.num_processes),
       "start this many workers on this machine (on loopback), the CPU threads split between them; "
       "under torchrun, mpirun or srun the launcher's variables decide instead")
      ("distributed-timeout", defaulted(&r.distributed_timeout),
       "seconds a worker waits for the others (rendezvous, collectives) before it stops with an error")
      ("distributed-interface", po::value<std::string>(&r.distributed_interface),
       "network interface(s) of the workers' connections, comma-separated (as GLOO_SOCKET_IFNAME, which it "
       "overrides); default: the interface that routes to MASTER_ADDR")
      ("all-reduce-overlap", po::value<bool>(&t.overlap_all_reduce)->default_value(t.overlap_all_reduce),
       "start summing the gradients over the workers during the backward pass, in buckets of 4 MiB as they are "
       "ready (0: after it, in 25 MiB buckets)")
      ("distributed-backend", po::value<std::string>(&r.distributed_backend)->default_value(r.distributed_backend),
       "the gradients' collectives: auto (nccl on CUDA in builds with NCCL, else gloo), gloo or nccl; CPU values "
       "always go through gloo. Named, it also connects a single worker (a world of one), which checks the path "
       "on one machine");

  po::options_description all;
  all.add(general).add(data).add(model).add(training).add(distributed);
  return all;
}

// SIGINT / SIGTERM: the first asks the trainer to stop after the current update
// and write model.ckpt; a second exits at once (checkpoints are written to a
// .tmp file and renamed, so the last complete one is intact either way).
std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int signal_number) {
  if (g_stop_signal.exchange(signal_number) != 0) {
    static const char kNow[] = "\ntandem-train: second signal: exiting now; the last checkpoint is intact\n";
    [[maybe_unused]] const auto n = ::write(STDERR_FILENO, kNow, sizeof(kNow) - 1);
    ::_exit(128 + signal_number);
  }
  static const char kSoon[] =
      "\ntandem-train: stopping after this update and writing a checkpoint (send the signal again to exit at once)\n";
  [[maybe_unused]] const auto n = ::write(STDERR_FILENO, kSoon, sizeof(kSoon) - 1);
}

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // A full file system or a file-size limit makes writes fail with an error the
  // checkpoint code reports, instead of killing the process.
  signal(SIGXFSZ, SIG_IGN);
  // A worker that dies leaves the others writing to a closed connection: that is
  // an error to report (naming the rank), not a reason to be killed by SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
}

int run(int argc, char** argv) {
  train::TrainOptions t;
  model::ModelOptions& m = t.model;
  RawOptions r;
  const auto options = describe(t, m, r);
  auto vm = parse(argc, argv, options, nullptr);
  if (print_help_if_asked(vm, kUsage, options)) return 0;
  if (vm.count("config") > 0) {  // the last file first: values already stored stay
    load_config_files(vm["config"].as<std::vector<std::string>>(), options, vm);
  }
  po::notify(vm);
  if (vm.count("dump-config") > 0) {
    dump_config(vm);
    return 0;
  }
  if (t.model_dir.empty()) throw Error("--model DIR is required (where checkpoints and logs go)");
  m.type(model::parse_model_type(r.type));
  if (t.train_sets.empty()) {
    throw Error(m.is_language_model() ? "--train-sets FILE is required" : "--train-sets SRC TGT is required");
  }
  if (m.is_language_model()) {  // the decoder stack alone: defaults that fit it, unless given
    if (vm["attention"].defaulted()) r.attention = "none";
    if (vm["dec-init"].defaulted()) r.dec_init = "zeros";
    if (vm.count("valid-metrics") == 0) r.valid_metrics = {"cross-entropy", "perplexity"};
  }
  for (const char* name : {"cell", "dim-emb", "dim-rnn", "enc-depth", "dec-depth", "enc-type", "attention", "dec-init",
                           "tied-embeddings", "deep-output", "tied-embeddings-src", "layer-normalization",
                           "dec-cell-base-depth", "enc-cell-depth", "dim-vocabs"}) {
    if (vm.count(name) > 0 && !vm[name].defaulted()) t.given_architecture.emplace_back(name);
  }
  if (r.enc_type != "bidirectional" && r.enc_type != "unidirectional") {
    throw Error("unknown --enc-type '" + r.enc_type + "'; use bidirectional or unidirectional");
  }
  m.cell(model::parse_cell_type(r.cell))
      .attention(model::parse_attention_type(r.attention))
      .decoder_init(model::parse_decoder_init(r.dec_init))
      .bidirectional(r.enc_type == "bidirectional")
      .tied_output(r.tied_embeddings);
  t.optimizer = parse_optimizer(r.optimizer);
  t.lr.type = parse_lr_schedule(r.lr_schedule);
  t.valid_metrics = parse_metrics(r.valid_metrics);
  t.device = parse_device(r.device);
  t.precision = model::parse_precision(r.precision);
  if (t.precision == model::Precision::kInt8) {
    throw Error("--precision int8 is for translation (tandem-translate, tandem-server, tandem-score); "
                "train in float32 or bfloat16");
  }
  t.after_seconds = r.after_minutes * 60.0;
  parse_valid_freq(r.valid_freq, t);
  if (!(t.valid_normalize >= 0.0)) {
    throw Error("--valid-normalize must be 0 (off) or more, got " + std::to_string(t.valid_normalize));
  }
  t.batching.shuffle = !r.no_shuffle;
  t.batching.seed = t.seed;
  t.verbose = vm.count("quiet") == 0;
  t.progress = t.verbose && isatty(STDERR_FILENO) != 0;
  if (r.distributed_timeout <= 0) throw Error("--distributed-timeout must be above 0 seconds");
  const auto timeout = std::chrono::seconds(static_cast<int64_t>(std::ceil(r.distributed_timeout)));
  const auto launch = dist::launch_from_environment();
  const char* worker_threads = std::getenv("TANDEM_WORKER_THREADS");
  if (r.num_processes < 1) throw Error("--num-processes must be at least 1");
  if (t.verbose && !launch.note.empty()) std::cerr << kProgram << ": " << launch.note << "\n";
  if (r.num_processes > 1 && !launch.launcher.empty() && !launch.distributed()) {
    throw Error("--num-processes " + std::to_string(r.num_processes) + " under " + launch.launcher + ", whose " +
                launch.size_variable + " is 1: the launcher decides the workers; start " +
                std::to_string(r.num_processes) + " tasks with it, or run without it (unset " + launch.size_variable +
                ") to start them on this machine");
  }
  if (r.num_processes > 1 && launch.launcher.empty()) {
    // This process only starts the workers: each gets its share of the threads.
    if (r.threads < 0) throw Error("--cpu-threads must be 0 (all cores) or more, got " + std::to_string(r.threads));
    const int total = util::resolve_cpu_threads(r.threads);
    const int each = std::max(1, total / r.num_processes);
    if (t.verbose) std::cerr << kProgram << ": starting " << r.num_processes << " workers on this machine, " << each
              << " CPU thread" << (each == 1 ? "" : "s") << " each\n";
    return run_local_workers(argc, argv, r.num_processes, each, timeout + std::chrono::seconds(30));
  }
  util::keep_freed_memory();
  const int threads = worker_threads != nullptr ? std::atoi(worker_threads) : r.threads;
  t.cpu_threads = util::set_torch_threads(launch.distributed() && launch.rank > 0
                                              ? util::resolve_cpu_threads(threads)
                                              : announce_cpu_threads(kProgram, threads, !t.verbose),
                                          !t.verbose);
  t.stop_request = &g_stop_signal;
  install_stop_handlers();
  dist::CommunicatorOptions comm_options;
  comm_options.timeout = timeout;
  comm_options.interface = r.distributed_interface;
  comm_options.backend = dist::parse_backend(r.distributed_backend);
  const auto communicator = dist::Communicator::connect(launch, comm_options, t.device);
  if (communicator->connected()) t.communicator = communicator.get();
  if (launch.distributed() && launch.rank > 0) t.verbose = t.progress = false;  // rank 0 speaks for all
  if (t.verbose && launch.distributed()) std::cerr << kProgram << ": " << launch.describe() << "\n";
  train::Trainer trainer(t);
  trainer.run();
  // Killed by the signal, as far as the shell and scripts can tell (130, 143),
  // after the checkpoint is written.
  return trainer.interrupted_by() != 0 ? 128 + trainer.interrupted_by() : 0;
}

}  // namespace

int train_main(int argc, char** argv) {
  return run_torch_program(kProgram, argc, argv, [&] { return run(argc, argv); });
}

}  // namespace tandem::cli
