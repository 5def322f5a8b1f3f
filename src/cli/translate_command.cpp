// tandem-translate: raw text in, raw text out, one line for every line.
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
#include "cli/model_program.h"
#include "cli/option_parsers.h"
#include "tandem/error.h"
#include "tandem/io/line_reader.h"
#include "tandem/translator.h"
#include "tandem/util/progress_line.h"
#include "tandem/util/utf8.h"

namespace tandem::cli {
namespace {

constexpr const char* kUsage =
    "Usage: tandem-translate --models MODEL [MODEL ...] [-i FILE] [-o FILE] [options]\n"
    "Translates raw text, one output line per input line, in order. A MODEL is a\n"
    "model folder (its best-BLEU checkpoint) or a checkpoint file; several make an ensemble.\n"
    "Example: tandem-translate -m model_dir -b 5 < test.en > test.de";
int translate(int argc, char** argv) {
  ModelProgramOptions c;
  TranslateOptions t;
  std::string input = "-";
  std::string output = "-";
  std::string sampling = "none";
  std::string alignment = "none";
  std::vector<std::string> shortlist;
  po::options_description options("Options");
  add_model_program_options(options, c);
  options.add_options()
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
       "append attention alignments over SentencePiece pieces: hard (src-tgt pairs), soft (weights) or "
       "soft-pieces (weights, then the output pieces of their rows: what tandem-plot attention draws)")
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
  else if (alignment == "soft-pieces") t.alignment = AlignmentOutput::kSoftPieces;
  else throw Error("unknown --alignment '" + alignment + "'; use hard, soft or soft-pieces");
  t.search.keep_attention = t.alignment != AlignmentOutput::kNone;

  auto translator = start_translator("tandem-translate", c);
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

}  // namespace

int translate_main(int argc, char** argv) {
  return run_torch_program("tandem-translate", argc, argv, [&] { return translate(argc, argv); });
}

}  // namespace tandem::cli
