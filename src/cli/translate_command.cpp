// tandem-translate: raw text in, raw text out; tandem-score; and tandem-sample.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "tandem/io/line_reader.h"
#include "tandem/error.h"
#include "tandem/util/progress_line.h"
#include "tandem/translator.h"
#include "tandem/util/cpu_threads.h"
#include "tandem/util/allocator.h"
#include "tandem/util/utf8.h"
#include "cli/option_parsers.h"

namespace tandem::cli {
namespace {

constexpr const char* kUsage =
    "Usage: tandem-translate --models MODEL [MODEL ...] [-i FILE] [-o FILE] [options]\n"
    "Translates raw text, one output line per input line, in order. A MODEL is a\n"
    "model folder (its best-BLEU checkpoint) or a checkpoint file; several make an ensemble.\n"
    "Example: tandem-translate -m model_dir -b 5 < test.en > test.de";
constexpr const char* kScoreUsage =
    "Usage: tandem-score --models MODEL [MODEL ...] --train-sets SRC TGT [--normalize] [--summary]\n"
    "       tandem-score --models LM --train-sets FILE [--normalize] [--summary]\n"
    "Prints log P(target | source) of every line pair under the model or ensemble, as\n"
    "tandem-translate's F0= scores it (sum over the target pieces and eos), or with\n"
    "--summary the corpus cross entropy and perplexity. A language model (--type lm) gives\n"
    "log P(line) (bos given, each piece and eos predicted) and, with --summary, bits per character too.\n"
    "Lines are cleaned as everywhere\n"
    "(a CRLF file or a byte order mark scores as the plain file).";

constexpr const char* kSampleUsage =
    "Usage: tandem-sample --models LM [-n N] [--prefix TEXT | -i FILE] [--temperature T] [--top-k K]\n"
    "                     [--seed S] [--max-length N] [--beam-size K] [options]\n"
    "Generates sentences with a language model (tandem-train --type lm): each piece is drawn\n"
    "from the model's softmax and fed back, until eos or --max-length. N new sentences, or N\n"
    "continuations of --prefix, or one continuation of every line of FILE (the line itself is\n"
    "the prefix; an empty line starts a new sentence). --beam-size K gives the most probable\n"
    "continuation instead of a sample. Each output line has its own random stream (seed, line\n"
    "number): the samples do not depend on --mini-batch.\n"
    "Example: tandem-sample -m lm_dir -n 10 --temperature 0.7";

// Defaults that suit a character vocabulary, used when the option is not given.
constexpr int64_t kCharacterMaxSampleLength = 400;  // tandem-sample --max-length (100 for subwords)

struct Common {
  std::vector<std::string> models;
  std::vector<double> weights;
  std::string device = "cpu";
  std::string precision = "float32";
  int threads = 0;
  bool quiet = false;
};

void add_common(po::options_description& options, Common& c) {
  options.add_options()
      ("help,h", "show this help")
      ("models,m", po::value<std::vector<std::string>>(&c.models)->multitoken()->required(),
       "model folders or checkpoint files")
      ("device", po::value<std::string>(&c.device)->default_value(c.device), "cpu, cuda or cuda:N");
  add_precision_option(options, &c.precision);
  add_cpu_threads_option(options, &c.threads);
  add_quiet_option(options, &c.quiet);
}

// Threads (printed) and device, as every LibTorch program sets them up, then
// the models in --precision.
Translator start(const std::string& program, const Common& c) {
  util::keep_freed_memory();
  util::set_torch_threads(announce_cpu_threads(program, c.threads, c.quiet), c.quiet);
  auto translator = Translator::load(c.models, parse_device(c.device), c.weights);
  translator.set_precision(model::parse_precision(c.precision));
  return translator;
}

int translate(int argc, char** argv) {
  Common c;
  TranslateOptions t;
  std::string input = "-";
  std::string output = "-";
  std::string sampling = "none";
  std::string alignment = "none";
  std::vector<std::string> shortlist;
  po::options_description options("Options");
  add_common(options, c);
  options.add_options()
      ("weights", po::value<std::vector<double>>(&c.weights)->multitoken(), "ensemble weights, one per model")
      ("input,i", po::value<std::string>(&input)->default_value(input), "input file (plain or .gz); - for stdin")
      ("output,o", po::value<std::string>(&output)->default_value(output), "output file; - for stdout")
      ("beam-size,b", po::value<int64_t>(&t.search.beam_size)->default_value(t.search.beam_size), "beam size; 1 is greedy")
      ("normalize,n", defaulted(&t.search.normalize), "divide scores by length^ALPHA")
      ("word-penalty", defaulted(&t.search.word_penalty), "subtract this per output token")
      ("max-length-factor", defaulted(&t.search.max_length_factor),
       "output length limit relative to the input length")
      ("max-input-length",
       po::value<int64_t>(&t.max_input_length)->default_value(t.max_input_length, "256, or 1024 for characters"),
       "cut input lines longer than this many pieces (with a warning)")
      ("mini-batch", po::value<int64_t>(&t.mini_batch)->default_value(t.mini_batch), "sentences translated together")
      ("maxi-batch", po::value<int64_t>(&t.maxi_batch)->default_value(t.maxi_batch),
       "mini-batches read and sorted by length before output")
      ("n-best", po::bool_switch(&t.n_best), "all hypotheses: id ||| hypothesis ||| F0= score ||| total")
      ("output-scores", po::bool_switch(&t.output_scores), "append ' ||| score' to each line")
      ("alignment", po::value<std::string>(&alignment)->default_value(alignment),
       "append attention alignments over SentencePiece pieces: hard (src-tgt pairs) or soft (weights)")
      ("sampling", po::value<std::string>(&sampling)->default_value(sampling), "none, full or topk")
      ("top-k", po::value<int64_t>(&t.search.top_k)->default_value(t.search.top_k), "tokens to draw from with topk")
      ("temperature", defaulted(&t.search.temperature), "sampling temperature")
      ("seed", po::value<uint64_t>(&t.search.seed)->default_value(t.search.seed),
       "sampling seed; each line draws from its own stream, so batching does not change samples")
      ("allow-unk", po::bool_switch(&t.search.allow_unk), "let translations contain <unk> (masked by default)")
      ("shortlist", po::value<std::vector<std::string>>(&shortlist)->multitoken(),
       "FILE [FIRST [BEST]]: the output layer over a shortlist only: the FIRST (100) most frequent target pieces "
       "and the BEST (100) of each source piece (tandem-corpus --write-shortlist, or Marian's lexical shortlist)");
  auto vm = parse(argc, argv, options, nullptr);
  if (print_help_if_asked(vm, kUsage, options)) return 0;
  po::notify(vm);
  if (sampling == "none") t.search.sampling = search::Sampling::kNone;
  else if (sampling == "full") t.search.sampling = search::Sampling::kFull;
  else if (sampling == "topk") t.search.sampling = search::Sampling::kTopK;
  else throw Error("unknown --sampling '" + sampling + "'; use none, full or topk");
  if (alignment == "none") t.alignment = AlignmentOutput::kNone;
  else if (alignment == "hard") t.alignment = AlignmentOutput::kHard;
  else if (alignment == "soft") t.alignment = AlignmentOutput::kSoft;
  else throw Error("unknown --alignment '" + alignment + "'; use hard or soft");
  t.search.keep_attention = t.alignment != AlignmentOutput::kNone;

  auto translator = start("tandem-translate", c);
  if (!shortlist.empty()) {
    if (shortlist.size() > 3) throw Error("--shortlist takes FILE [FIRST [BEST]]");
    const auto count = [&](size_t i, const char* what) -> int64_t {
      if (shortlist.size() <= i) return 100;
      try {
        size_t used = 0;
        const auto v = std::stoll(shortlist[i], &used);
        if (used == shortlist[i].size() && v >= 0) return v;
      } catch (const std::exception&) {
      }
      throw Error(std::string("--shortlist: ") + what + " must be a count, not '" + shortlist[i] + "'");
    };
    translator.set_shortlist(std::make_shared<const data::Shortlist>(data::Shortlist::load(
                                 shortlist[0], translator.source_tokenizer(), translator.target_tokenizer())),
                             count(1, "FIRST"), count(2, "BEST"));
  }
  if (translator.is_language_model()) {
    throw Error(c.models.front() + ": a language model (--type lm) has no source to translate from; score text "
                "with tandem-score or generate it with tandem-sample");
  }
  if (vm["max-input-length"].defaulted() && translator.source_tokenizer().is_character_level()) {
    t.max_input_length = kCharacterMaxInputLength;  // characters: four to five times the pieces of subwords
  }
  // Standard input is read with getline, which returns each line as soon as it
  // arrives (an interactive pipe is not held back); files may be gzip-compressed.
  std::unique_ptr<io::LineReader> file_in;
  if (input != "-") file_in = std::make_unique<io::LineReader>(input);
  const auto next_line = [&](std::string& line) {
    return file_in ? file_in->next(line) : static_cast<bool>(std::getline(std::cin, line));
  };
  std::ofstream file_out;
  if (output != "-") {
    file_out.open(output, std::ios::binary);
    if (!file_out) throw Error(output + ": cannot write the output file");
  }
  std::ostream& out = output == "-" ? std::cout : file_out;
  util::ProgressLine progress(std::cerr, !c.quiet && isatty(STDERR_FILENO) != 0);
  const auto stats = translator.translate_stream(next_line, out, t, &std::cerr, [&](const StreamStats& s) {
    progress.show(std::to_string(s.lines) + " sentences · " +
                  std::to_string(static_cast<int64_t>(s.lines / std::max(s.seconds, 1e-9))) + " sentences/s");
  });
  progress.clear();
  if (!out) throw Error((output == "-" ? std::string("standard output") : output) + ": writing failed (disk full?)");
  if (!c.quiet) {
    std::cerr << "tandem-translate: " << stats.lines << " sentences, " << stats.output_pieces << " output pieces in "
              << stats.seconds << " s, " << stats.lines / std::max(stats.seconds, 1e-9) << " sentences/s";
    if (stats.truncated > 0) std::cerr << "; " << stats.truncated << " lines cut to --max-input-length";
    if (stats.replaced > 0) std::cerr << "; " << stats.replaced << " lines with invalid UTF-8 replaced";
    std::cerr << "\n";
  }
  return 0;
}

int score(int argc, char** argv) {
  Common c;
  std::vector<std::string> sets;
  bool normalize = false;
  bool summary = false;
  int64_t mini_batch = 64;
  po::options_description options("Options");
  add_common(options, c);
  options.add_options()
      ("weights", po::value<std::vector<double>>(&c.weights)->multitoken(), "ensemble weights, one per model")
      ("train-sets,t", po::value<std::vector<std::string>>(&sets)->multitoken()->required(),
       "source and target files; one file for a language model")
      ("normalize", po::bool_switch(&normalize), "divide each score by the target length (pieces + eos)")
      ("summary", po::bool_switch(&summary), "print only corpus cross entropy and perplexity")
      ("mini-batch", po::value<int64_t>(&mini_batch)->default_value(mini_batch), "pairs scored together");
  auto vm = parse(argc, argv, options, nullptr);
  if (print_help_if_asked(vm, kScoreUsage, options)) return 0;
  po::notify(vm);
  auto translator = start("tandem-score", c);
  const bool language_model = translator.is_language_model();
  if (language_model && sets.size() != 1) {
    throw Error(c.models.front() + " is a language model: give it one text file, --train-sets FILE");
  }
  if (!language_model && sets.size() != 2) throw Error("--train-sets takes two files: source and target");
  const auto targets = io::read_text_lines(sets.back());
  // A language model's "sources" are empty: it scores each line on its own.
  const auto sources = language_model ? std::vector<std::string>(targets.size()) : io::read_text_lines(sets[0]);
  if (sources.size() != targets.size()) {
    throw Error("the files are not line-aligned: " + sets[0] + " has " + std::to_string(sources.size()) +
                " lines, " + sets[1] + " has " + std::to_string(targets.size()));
  }
  std::vector<int64_t> pieces;
  const auto scores = translator.score(sources, targets, mini_batch, &pieces);
  if (summary) {
    double total = 0;
    int64_t tokens = 0;
    for (size_t i = 0; i < scores.size(); ++i) total += scores[i], tokens += pieces[i];
    const double ce = tokens > 0 ? -total / static_cast<double>(tokens) : 0.0;
    if (!language_model) {
      std::printf("cross-entropy %.6f perplexity %.4f over %lld target pieces (eos included), %zu pairs\n", ce,
                  std::exp(ce), static_cast<long long>(tokens), scores.size());
      return 0;
    }
    // Bits per character: the whole text's -log2 P over its characters, each
    // line's end counted as one (as the newline it replaces).
    int64_t characters = 0;
    for (const auto& line : targets) {
      std::string text = line;
      util::replace_invalid_utf8(text);
      characters += static_cast<int64_t>(util::decode_utf8(text).size()) + 1;
    }
    const double bits_per_character = characters > 0 ? -total / std::log(2.0) / static_cast<double>(characters) : 0.0;
    std::printf("cross-entropy %.6f perplexity %.4f over %lld pieces (eos included); bits per character %.4f over "
                "%lld characters (line ends included), %zu lines\n",
                ce, std::exp(ce), static_cast<long long>(tokens), bits_per_character,
                static_cast<long long>(characters), scores.size());
    return 0;
  }
  for (size_t i = 0; i < scores.size(); ++i) {
    std::printf("%.6f\n", normalize ? scores[i] / static_cast<double>(pieces[i]) : scores[i]);
  }
  return 0;
}

int sample(int argc, char** argv) {
  Common c;
  TranslateOptions t;
  int64_t count = 10;
  std::string prefix;
  std::string input;
  std::string output = "-";
  int64_t beam_size = 0;
  bool scores = false;
  t.search.max_length = 100;
  t.search.top_k = 0;
  po::options_description options("Options");
  add_common(options, c);
  options.add_options()
      ("weights", po::value<std::vector<double>>(&c.weights)->multitoken(), "ensemble weights, one per model")
      ("count,n", po::value<int64_t>(&count)->default_value(count), "sentences to generate (without -i)")
      ("prefix", po::value<std::string>(&prefix), "text every sentence starts with (without -i)")
      ("input,i", po::value<std::string>(&input), "file of prefixes, one output line each (plain or .gz; - for stdin)")
      ("output,o", po::value<std::string>(&output)->default_value(output), "output file; - for stdout")
      ("temperature", defaulted(&t.search.temperature), "sampling temperature; towards 0 it approaches greedy")
      ("top-k", po::value<int64_t>(&t.search.top_k)->default_value(t.search.top_k),
       "draw among the K most probable pieces; 0 = all")
      ("seed", po::value<uint64_t>(&t.search.seed)->default_value(t.search.seed), "sampling seed")
      ("max-length", po::value<int64_t>(&t.search.max_length)->default_value(t.search.max_length, "100, or 400 for characters"),
       "pieces per sentence at most, eos and prefix included")
      ("beam-size,b", po::value<int64_t>(&beam_size)->default_value(beam_size),
       "K > 0: the most probable continuation by beam search instead of a sample")
      ("mini-batch", po::value<int64_t>(&t.mini_batch)->default_value(t.mini_batch), "sentences generated together")
      ("allow-unk", po::bool_switch(&t.search.allow_unk), "let sentences contain <unk>")
      ("output-scores", po::bool_switch(&scores), "append ' ||| log P' of each sentence (eos included)");
  auto vm = parse(argc, argv, options, nullptr);
  if (print_help_if_asked(vm, kSampleUsage, options)) return 0;
  po::notify(vm);
  if (count < 0) throw Error("--count must not be negative");
  if (!input.empty() && vm.count("prefix") > 0) throw Error("give --prefix or -i FILE, not both");
  if (t.search.top_k < 0) throw Error("--top-k must be 0 (all pieces) or more");
  if (beam_size < 0) throw Error("--beam-size must be 0 (sample) or more");
  if (beam_size > 0) {
    t.search.beam_size = beam_size;
    t.search.sampling = search::Sampling::kNone;
  } else {
    t.search.beam_size = 1;
    t.search.sampling = t.search.top_k > 0 ? search::Sampling::kTopK : search::Sampling::kFull;
  }
  auto translator = start("tandem-sample", c);
  if (!translator.is_language_model()) {
    throw Error(c.models.front() + ": a translation model (--type s2s); tandem-sample needs a language model "
                "(tandem-train --type lm); translate with tandem-translate");
  }
  if (vm["max-length"].defaulted() && translator.target_tokenizer().is_character_level()) {
    t.search.max_length = kCharacterMaxSampleLength;
  }
  std::vector<std::string> prefixes;
  if (input.empty()) {
    prefixes.assign(static_cast<size_t>(count), prefix);
  } else {
    prefixes = io::read_text_lines(input);
  }
  std::ofstream file_out;
  if (output != "-") {
    file_out.open(output, std::ios::binary);
    if (!file_out) throw Error(output + ": cannot write the output file");
  }
  std::ostream& out = output == "-" ? std::cout : file_out;
  const auto started = std::chrono::steady_clock::now();
  const auto results = translator.complete(prefixes, t);
  int64_t pieces = 0;
  for (const auto& r : results) {
    out << r.texts.front();
    if (scores) {
      char score[32];
      std::snprintf(score, sizeof(score), "%.6f", r.hypotheses.empty() ? 0.0 : r.hypotheses.front().score);
      out << " ||| " << score;
    }
    out << '\n';
    if (!r.hypotheses.empty()) pieces += static_cast<int64_t>(r.hypotheses.front().tokens.size());
  }
  out.flush();
  if (!out) throw Error((output == "-" ? std::string("standard output") : output) + ": writing failed (disk full?)");
  if (!c.quiet) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cerr << "tandem-sample: " << results.size() << " sentences, " << pieces << " pieces in " << seconds << " s\n";
  }
  return 0;
}

}  // namespace

int sample_main(int argc, char** argv) {
  return run_guarded("tandem-sample", argc, argv, [&] { return sample(argc, argv); }, torch_build_info);
}

int translate_main(int argc, char** argv) {
  return run_guarded("tandem-translate", argc, argv, [&] { return translate(argc, argv); }, torch_build_info);
}

int score_main(int argc, char** argv) {
  return run_guarded("tandem-score", argc, argv, [&] { return score(argc, argv); }, torch_build_info);
}

}  // namespace tandem::cli
