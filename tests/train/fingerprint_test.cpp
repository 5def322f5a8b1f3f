// The workers' fingerprint: every option of tandem-train either changes what a
// worker does, and is in the fingerprint that the workers compare at the start,
// or is listed here with the reason it does not. A new option fails this test
// until it is placed in one or the other.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tandem/data/parallel_corpus.h"
#include "tandem/train/train_options.h"
#include "test_support.h"
#include "train/start.h"

namespace tandem::train {
namespace {

// Options that do not change what a worker computes, and why.
const std::map<std::string, std::string>& worker_neutral_options() {
  static const std::map<std::string, std::string> reasons = {
      {"help", "prints the options"},
      {"version", "prints the version"},
      {"config", "a file of options: the options it sets are checked one by one"},
      {"dump-config", "prints the configuration and stops"},
      {"model", "the folder rank 0 writes; the checkpoint it starts from is sent to every worker"},
      {"train-sets", "the corpus, whose summary (lines, pairs, pieces) is in the fingerprint"},
      {"skip-invalid-utf8", "changes the corpus, whose summary counts the invalid lines skipped"},
      {"data-cache", "where the token ids are cached; the ids are the same"},
      {"vocabs", "each vocabulary's bytes are hashed into the fingerprint under its path"},
      {"valid-sets", "rank 0 alone validates; the others take its outcome"},
      {"valid-metrics", "rank 0 alone validates"},
      {"valid-mini-batch", "rank 0 alone validates"},
      {"valid-beam-size", "rank 0 alone validates"},
      {"valid-normalize", "rank 0 alone validates"},
      {"early-stopping", "rank 0 decides and sends its decision at each validation"},
      {"disp-freq", "rank 0 alone logs"},
      {"keep-last", "rank 0 alone writes checkpoints"},
      {"exponential-smoothing", "rank 0 alone validates and saves the smoothed weights"},
      {"quiet", "rank 0 alone speaks"},
      {"cpu-threads", "threads change the speed, not the sums (each worker's own)"},
      {"num-processes", "starts the workers; under a launcher it is an error unless it matches"},
      {"distributed-timeout", "how long a worker waits; a worker that waits less stops sooner, with an error"},
      {"distributed-interface", "which network interface a worker's connections use"},
  };
  return reasons;
}

std::vector<std::string> train_options() {
  const auto help = test::run_program("tandem-train", "--help");
  std::vector<std::string> names;
  const std::regex option(R"(^\s+(?:-\w \[ )?--([a-z0-9-]+))");
  std::istringstream in(help.out + help.err);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, option)) names.push_back(m[1]);
  }
  return names;
}

TEST(FingerprintTest, EveryOptionIsInTheFingerprintOrListedAsNotChangingWhatAWorkerDoes) {
  const std::string dir = test::temp_dir();
  std::string text;
  for (const auto& s : test::sample_sentences()) text += s + "\n";
  test::write_file(dir + "/train.txt", text);
  data::CorpusOptions corpus_options;
  corpus_options.source_path = corpus_options.target_path = dir + "/train.txt";
  const auto corpus = data::ParallelCorpus::load(corpus_options, test::sample_tokenizer(), test::sample_tokenizer());
  TrainOptions o;
  const std::string print = fingerprint(o, corpus, 2);

  const auto names = train_options();
  ASSERT_GT(names.size(), 40u) << "tandem-train --help lists too few options: the parse of its help is broken";
  std::set<std::string> seen;
  for (const auto& name : names) {
    if (!seen.insert(name).second) continue;
    if (worker_neutral_options().count(name) != 0) continue;
    // In the fingerprint: by its name, or as a key of the model options' JSON
    // (--dim-vocabs is the model's source-vocab and target-vocab).
    const std::string key = name == "dim-vocabs" ? "source-vocab" : name;
    const bool named = print.find("--" + name) != std::string::npos || print.find("\"" + key + "\"") != std::string::npos;
    EXPECT_TRUE(named) << "--" << name << " is neither in the workers' fingerprint (src/train/start.cpp) nor listed in "
                       << "this test as an option that does not change what a worker does:\n"
                       << print;
  }
  for (const auto& [name, reason] : worker_neutral_options()) {
    EXPECT_TRUE(seen.count(name) != 0 || name == "version" || name == "config")
        << "--" << name << " is listed as not changing what a worker does, but tandem-train has no such option";
  }
}

}  // namespace
}  // namespace tandem::train
