// tandem-score: log P(target | source), or log P(line) under a language model.
#include <unistd.h>

#include <algorithm>
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
#include "tandem/data/token_stream.h"
#include "tandem/model/stream_lm.h"
#include "tandem/util/progress_line.h"
#include "tandem/vocab/special_ids.h"
#include "tandem/util/utf8.h"

namespace tandem::cli {
namespace {

constexpr const char* kScoreUsage =
    "Usage: tandem-score --models MODEL [MODEL ...] --train-sets SRC TGT [--normalize] [--summary]\n"
    "       tandem-score --models LM --train-sets FILE [--normalize] [--summary]\n"
    "Prints log P(target | source) of every line pair under the model or ensemble, as\n"
    "tandem-translate's F0= scores it (sum over the target pieces and eos), or with\n"
    "--summary the corpus cross entropy and perplexity. A language model (--type lm) gives\n"
    "log P(line) (bos given, each piece and eos predicted) and, with --summary, bits per character too.\n"
    "Lines are cleaned as everywhere\n"
    "(a CRLF file or a byte order mark scores as the plain file).\n"
    "With --stream a language model reads the file as one stream, the benchmarks' way (PTB,\n"
    "char-rnn): an eos after every line, the state carried across lines, every token of the file\n"
    "predicted once (the first from the stream's opening eos); it prints the summary.";

// --stream: the file as one stream, as a language model trained with --lm-stream reads it.
int score_as_stream(Translator& translator, const std::string& path) {
  if (!translator.is_language_model()) throw Error("--stream scores text with a language model (--type lm)");
  if (translator.models().size() != 1) throw Error("--stream scores with one model; give one --models");
  const auto text = data::read_token_stream(path, translator.target_tokenizer(), /*count_characters=*/true);
  for (auto& model : translator.models()) model->eval();
  const auto s = model::score_stream(translator.models().front(), text.ids, translator.device(), translator.precision());
  const double ce = s.tokens > 0 ? -s.log_prob / static_cast<double>(s.tokens) : 0.0;
  const double bits_per_character =
      text.characters > 0 ? -s.log_prob / std::log(2.0) / static_cast<double>(text.characters) : 0.0;
  std::printf("cross-entropy %.6f perplexity %.4f over %lld tokens of one stream (each line's end included, every "
              "token predicted); bits per character %.4f (%.4f nats) over %lld characters (as the vocabulary "
              "normalizes them, line ends included), %lld unknown pieces, %lld lines\n",
              ce, std::exp(ce), static_cast<long long>(s.tokens), bits_per_character, bits_per_character * std::log(2.0),
              static_cast<long long>(text.characters), static_cast<long long>(text.unknown),
              static_cast<long long>(text.lines));
  return 0;
}

int score(int argc, char** argv) {
  ModelProgramOptions c;
  std::vector<std::string> sets;
  bool normalize = false;
  bool summary = false;
  bool stream = false;
  int64_t mini_batch = 64;
  po::options_description options("Options");
  add_model_program_options(options, c);
  options.add_options()
      ("train-sets,t", po::value<std::vector<std::string>>(&sets)->multitoken()->required(),
       "source and target files; one file for a language model")
      ("normalize", po::bool_switch(&normalize), "divide each score by the target length (pieces + eos)")
      ("summary", po::bool_switch(&summary), "print only corpus cross entropy and perplexity")
      ("stream", po::bool_switch(&stream), "a language model: score the file as one stream, the state carried across lines")
      ("mini-batch", po::value<int64_t>(&mini_batch)->default_value(mini_batch), "pairs scored together");
  auto vm = parse(argc, argv, options, nullptr);
  if (print_help_if_asked(vm, kScoreUsage, options)) return 0;
  po::notify(vm);
  auto translator = start_translator("tandem-score", c);
  const bool language_model = translator.is_language_model();
  if (stream) {
    if (sets.size() != 1) throw Error("--stream scores one text file: --train-sets FILE");
    return score_as_stream(translator, sets.front());
  }
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
    // Bits per character: the whole text's -log2 P over the characters the
    // model predicts, the text as the vocabulary normalizes it (what decoding
    // its pieces gives), each line's end counted as one (as the newline it replaces).
    int64_t characters = 0;
    int64_t unknown = 0;
    const auto& tokenizer = translator.target_tokenizer();
    for (const auto& line : targets) {
      std::string text = line;
      util::replace_invalid_utf8(text);
      const auto ids = tokenizer.encode(text);
      unknown += std::count(ids.begin(), ids.end(), vocab::kUnkId);
      characters += static_cast<int64_t>(util::decode_utf8(tokenizer.decode(ids)).size()) + 1;
    }
    const double bits_per_character = characters > 0 ? -total / std::log(2.0) / static_cast<double>(characters) : 0.0;
    std::printf("cross-entropy %.6f perplexity %.4f over %lld pieces (eos included); bits per character %.4f over "
                "%lld characters (as the vocabulary normalizes them, line ends included), %lld unknown pieces, "
                "%zu lines\n",
                ce, std::exp(ce), static_cast<long long>(tokens), bits_per_character,
                static_cast<long long>(characters), static_cast<long long>(unknown), scores.size());
    return 0;
  }
  for (size_t i = 0; i < scores.size(); ++i) {
    std::printf("%.6f\n", normalize ? scores[i] / static_cast<double>(pieces[i]) : scores[i]);
  }
  return 0;
}

}  // namespace

int score_main(int argc, char** argv) {
  return run_torch_program("tandem-score", argc, argv, [&] { return score(argc, argv); });
}

}  // namespace tandem::cli
