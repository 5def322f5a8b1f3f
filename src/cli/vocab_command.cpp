// tandem-vocab: trains a SentencePiece vocabulary with Tandem's special ids.
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "tandem/error.h"
#include "tandem/vocab/special_ids.h"
#include "tandem/vocab/tokenizer.h"
#include "tandem/vocab/vocab_trainer.h"

namespace tandem::cli {
namespace {

constexpr const char* kProgram = "tandem-vocab";
constexpr const char* kUsage =
    "Usage: tandem-vocab --input FILE [FILE ...] --model OUT.spm [options]\n"
    "Trains a SentencePiece model on raw text (plain or .gz). Give the files of both\n"
    "languages for a joint vocabulary, or run it once per language.\n"
    "Special ids: pad=0 unk=1 bos=2 eos=3.\n"
    "Example: tandem-vocab -i train.en.gz train.de.gz -o vocab.spm --vocab-size 8000";

int run(int argc, char** argv) {
  vocab::VocabOptions options;
  std::string model_path;
  std::string model_type = "unigram";
  int threads = 0;
  bool quiet = false;
  po::options_description visible("Options");
  visible.add_options()
      ("help,h", "show this help")
      ("input,i", po::value<std::vector<std::string>>(&options.inputs)->multitoken()->required(),
       "raw text files, plain or .gz")
      ("model,o", po::value<std::string>(&model_path)->required(), "where to write the model")
      ("vocab-size", po::value<int32_t>(&options.vocab_size)->default_value(options.vocab_size),
       "pieces in the vocabulary, special ids included")
      ("model-type", po::value<std::string>(&model_type)->default_value(model_type),
       "unigram, bpe, char, word (SentencePiece) or words (every whitespace-separated word, exactly; for word-level LM benchmarks)")
      ("character-coverage",
       defaulted(&options.character_coverage),
       "share of characters covered; 1.0 keeps all")
      ("byte-fallback", po::bool_switch(&options.byte_fallback),
       "spell unseen characters as bytes instead of <unk>")
      ("normalization", po::value<std::string>(&options.normalization)->default_value(options.normalization),
       "nmt_nfkc, nfkc, nmt_nfkc_cf, nfkc_cf or identity")
      ("max-sentences", po::value<int64_t>(&options.max_sentences)->default_value(0),
       "sentences sampled for training; 0 = all");
  add_cpu_threads_option(visible, &threads);
  add_quiet_option(visible, &quiet);
  auto vm = parse(argc, argv, visible, nullptr);
  if (print_help_if_asked(vm, kUsage, visible)) return 0;
  po::notify(vm);
  options.model_type = vocab::parse_model_type(model_type);
  options.threads = announce_cpu_threads(kProgram, threads, quiet);

  const auto report = vocab::train_vocab(options, model_path);
  if (!quiet) std::cerr << kProgram << ": read " << report.lines_read << " lines (" << report.empty_lines
            << " empty, left out)\n";
  std::cout << "wrote " << model_path << ": " << report.vocab_size << " pieces, " << model_type
            << ", pad=" << vocab::kPadId << " unk=" << vocab::kUnkId << " bos=" << vocab::kBosId
            << " eos=" << vocab::kEosId << "\n";
  return 0;
}

}  // namespace

int vocab_main(int argc, char** argv) {
  return run_guarded(kProgram, argc, argv, [&] { return run(argc, argv); });
}

}  // namespace tandem::cli
