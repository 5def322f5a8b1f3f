// tandem-corpus: checks a parallel corpus and shows how it batches, before training.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "tandem/data/batcher.h"
#include "tandem/data/parallel_corpus.h"
#include "tandem/data/shortlist.h"
#include "tandem/error.h"
#include "tandem/vocab/tokenizer.h"

namespace tandem::cli {
namespace {

constexpr const char* kProgram = "tandem-corpus";
constexpr const char* kUsage =
    "Usage: tandem-corpus --train-sets SRC TGT --vocabs SRC.spm [TGT.spm] [options]\n"
    "Reads a line-aligned corpus (plain or .gz) exactly as training will: checks line\n"
    "counts and UTF-8, counts the pairs it skips and why, and reports the batches of\n"
    "one epoch. Exit code 0 means training can use it.\n"
    "Example: tandem-corpus --train-sets train.en.gz train.de.gz --vocabs vocab.spm";

// Share of padding positions over both sides of the batches.
double padding_share(const data::ParallelCorpus& corpus, const std::vector<std::vector<int64_t>>& plan) {
  int64_t real = 0;
  int64_t padded = 0;
  for (const auto& batch : plan) {
    size_t longest_source = 0;
    size_t longest_target = 0;
    for (const int64_t i : batch) {
      const auto& pair = corpus.pair(i);
      real += static_cast<int64_t>(pair.source.size() + pair.target.size() + 2);
      longest_source = std::max(longest_source, pair.source.size());
      longest_target = std::max(longest_target, pair.target.size());
    }
    padded += static_cast<int64_t>(batch.size() * (longest_source + longest_target + 2));
  }
  return padded == 0 ? 0.0 : 1.0 - static_cast<double>(real) / static_cast<double>(padded);
}

int run(int argc, char** argv) {
  std::vector<std::string> train_sets;
  std::vector<std::string> vocabs;
  data::CorpusOptions corpus_options;
  data::BatchOptions batch_options;
  bool no_shuffle = false;
  int64_t epoch = 0;
  std::string shortlist_path;
  int64_t shortlist_keep = 100;
  int threads = 0;
  bool quiet = false;
  po::options_description visible("Options");
  visible.add_options()
      ("help,h", "show this help")
      ("train-sets,t", po::value<std::vector<std::string>>(&train_sets)->multitoken()->required(),
       "source and target files, line-aligned")
      ("vocabs,v", po::value<std::vector<std::string>>(&vocabs)->multitoken()->required(),
       "SentencePiece model: one (joint) or one per side")
      ("max-length", po::value<int64_t>(&corpus_options.max_length)->default_value(corpus_options.max_length),
       "skip pairs with a side longer than this many pieces; 0 = no limit")
      ("skip-invalid-utf8", po::bool_switch(&corpus_options.skip_invalid_utf8),
       "skip and count pairs with invalid UTF-8 instead of stopping")
      ("data-cache", po::value<std::string>(&corpus_options.cache_folder),
       "folder of the tokenized corpus (memory-mapped, as tandem-train --data-cache; reused when the text and "
       "vocabularies are unchanged); default: tokenize into memory")
      ("mini-batch", po::value<int64_t>(&batch_options.max_sentences)->default_value(batch_options.max_sentences),
       "sentence pairs per batch at most; 0 = no such limit")
      ("mini-batch-tokens", po::value<int64_t>(&batch_options.max_tokens)->default_value(0),
       "padded tokens per batch at most; 0 = no such limit")
      ("maxi-batch", po::value<int64_t>(&batch_options.window)->default_value(batch_options.window),
       "sort by length within this many batches; 1 = no bucketing")
      ("no-shuffle", po::bool_switch(&no_shuffle), "keep corpus order (no shuffling)")
      ("seed", po::value<uint64_t>(&batch_options.seed)->default_value(batch_options.seed), "shuffling seed")
      ("epoch", po::value<int64_t>(&epoch)->default_value(0), "which epoch's batches to report")
      ("write-shortlist", po::value<std::string>(&shortlist_path),
       "also write a vocabulary shortlist of the corpus (for tandem-translate --shortlist)")
      ("shortlist-keep", po::value<int64_t>(&shortlist_keep)->default_value(shortlist_keep),
       "target pieces kept per source piece in the shortlist");
  add_cpu_threads_option(visible, &threads);
  add_quiet_option(visible, &quiet);
  auto vm = parse(argc, argv, visible, nullptr);
  if (print_help_if_asked(vm, kUsage, visible)) return 0;
  po::notify(vm);
  if (train_sets.size() != 2) throw Error("--train-sets takes two files (source and target)");
  if (vocabs.empty() || vocabs.size() > 2) throw Error("--vocabs takes one (joint) or two models");
  announce_cpu_threads(kProgram, threads, quiet);
  batch_options.shuffle = !no_shuffle;

  corpus_options.source_path = train_sets[0];
  corpus_options.target_path = train_sets[1];
  const auto source_tokenizer = vocab::Tokenizer::load(vocabs[0]);
  const auto target_tokenizer = vocabs.size() == 2 ? vocab::Tokenizer::load(vocabs[1]) : source_tokenizer;
  const auto corpus = data::ParallelCorpus::load(corpus_options, source_tokenizer, target_tokenizer);
  std::cout << "corpus: " << corpus.report().summary() << "\n";
  if (corpus.size() == 0) throw Error("no usable sentence pair is left; nothing to train on");
  if (!shortlist_path.empty()) {
    const auto list = data::Shortlist::build(corpus, shortlist_keep);
    list.save(shortlist_path, source_tokenizer, target_tokenizer);
    std::cout << "shortlist: " << shortlist_path << " (" << list.frequent().size() << " target pieces by frequency, "
              << shortlist_keep << " at most per source piece)\n";
  }

  std::vector<int64_t> source_lengths;
  std::vector<int64_t> target_lengths;
  for (int64_t i = 0; i < corpus.size(); ++i) {
    source_lengths.push_back(corpus.source_length(i));
    target_lengths.push_back(corpus.target_length(i));
  }
  const data::Batcher batcher(source_lengths, target_lengths, batch_options);
  const auto plan = batcher.plan(epoch);
  auto unbucketed_options = batch_options;
  unbucketed_options.window = 1;
  const auto unbucketed = data::Batcher(source_lengths, target_lengths, unbucketed_options).plan(epoch);
  size_t largest = 0;
  for (const auto& b : plan) largest = std::max(largest, b.size());
  std::cout << std::fixed << std::setprecision(1) << "batches: " << plan.size() << " in epoch " << epoch
            << ", " << static_cast<double>(corpus.size()) / static_cast<double>(plan.size())
            << " pairs on average, " << largest << " at most\n"
            << "padding: " << 100.0 * padding_share(corpus, plan) << "% of positions with --maxi-batch "
            << batch_options.window << ", " << 100.0 * padding_share(corpus, unbucketed)
            << "% without bucketing\n";
  return 0;
}

}  // namespace

int corpus_main(int argc, char** argv) {
  return run_guarded(kProgram, argc, argv, [&] { return run(argc, argv); });
}

}  // namespace tandem::cli
