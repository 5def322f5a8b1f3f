// The Multi30k recipe's plumbing: data checks and stage skipping. (Training it
// for real takes hours: recipes/multi30k/RESULTS.md.)
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "test_support.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;

TEST(Multi30kRecipeTest, BadDataAndOptionsAreClearErrors) {
  const std::string dir = test::temp_dir();
  fs::create_directories(dir + "/data");
  for (const char* split : {"train", "val", "test_2016_flickr"}) {
    for (const char* lang : {"en", "de"}) test::write_gzip(dir + "/data/" + split + "." + lang + ".gz", "not the data\n");
  }
  auto r = test::run_recipe("multi30k", dir + "/w", "--data-dir " + dir + "/data");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("train.en.gz does not match its checksum"), std::string::npos) << r.out;
  r = test::run_recipe("multi30k", dir + "/w", "--data-dir " + dir + "/nowhere");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("nowhere/train.en.gz is missing"), std::string::npos) << r.out;
  r = test::run_recipe("multi30k", dir + "/w", "--src en --tgt ja");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("'ja' is not one of en de fr cs"), std::string::npos) << r.out;
  r = test::run_recipe("multi30k", dir + "/w", "--config transformer");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("no configuration 'transformer'"), std::string::npos) << r.out;
}

TEST(Multi30kRecipeTest, FinishedStagesAreSkippedAndTheLastOneScores) {
  const fs::path data = fs::path(TANDEM_SOURCE_DIR) / ".." / "shared" / "data" / "multi30k";
  TANDEM_REQUIRE_SHARED(!fs::exists(data / "test_2016_flickr.de.gz"), "Multi30k data at " + data.string());
  // A run whose vocabulary, training and translation are done: the translation
  // is the reference itself, so the scoring stage must print 100.0.
  const std::string work = test::temp_dir() + "/w";
  const std::string run = work + "/en-de/gru-bahdanau";
  fs::create_directories(run);
  test::write_file(work + "/en-de/vocab.spm", "done");
  test::write_file(run + "/train.done", "done");
  const std::string unzip = "gzip -dc " + (data / "test_2016_flickr.de.gz").string() + " > " + run + "/test.hyp";
  ASSERT_EQ(std::system(unzip.c_str()), 0);
  const auto r = test::run_recipe("multi30k", work, "--data-dir " + data.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("checksums match"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("vocab.spm exists"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("train.done exists"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("test.hyp exists"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tok:13a|smooth:exp|version:2.6.0 = 100.0"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(run + "/bleu.json"));
  EXPECT_NE(r.out.find("| en -> de | gru-bahdanau | 100.0 | 100.0 | 100.0 |"), std::string::npos)
      << r.out;  // the summary row: BLEU, chrF2, lowercased BLEU
  EXPECT_NE(r.out.find("chrF2|nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0 = 100.0"), std::string::npos)
      << r.out;
  EXPECT_TRUE(fs::exists(run + "/chrf.json"));
  EXPECT_TRUE(fs::exists(run + "/bleu-lc.json"));
}

TEST(Multi30kRecipeTest, AnEnsembleOfFinishedConfigurationsTranslatesTheTestSet) {
  const fs::path data = fs::path(TANDEM_SOURCE_DIR) / ".." / "shared" / "data" / "multi30k";
  TANDEM_REQUIRE_SHARED(!fs::exists(data / "test_2016_flickr.de.gz"), "Multi30k data at " + data.string());
  const std::string dir = test::temp_dir();
  const std::string work = dir + "/w";
  std::string text;
  for (const auto& s : test::sample_sentences()) text += s + "\n";
  test::write_file(dir + "/train.txt", text);
  // Three tiny finished "configurations" a, b and c (sharing a vocabulary), as the recipe leaves them.
  for (const std::string member : {"a", "b", "c"}) {
    const std::string run = work + "/en-de/" + member;
    const auto t = test::run_program(
        "tandem-train", "--model " + run + "/model --train-sets " + dir + "/train.txt " + dir + "/train.txt --vocabs " +
                            test::sample_model_path() + " --dim-emb 8 --dim-rnn 8 --after-updates 2 --valid-freq 0 " +
                            "--cpu-threads 1 --quiet --seed " + std::to_string(member[0] - 'a' + 1));
    ASSERT_EQ(t.exit_code, 0) << t.err;
    test::write_file(run + "/train.done", "done");
  }
  auto r = test::run_recipe("multi30k", work, "--data-dir " + data.string() + " --ensemble a,d --threads 1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("configuration 'd' has not finished training"), std::string::npos) << r.out;
  r = test::run_recipe("multi30k", work, "--data-dir " + data.string() + " --ensemble a,b --threads 1 --beam-size 1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string ensemble = work + "/en-de/ensemble-a+b";
  EXPECT_NE(r.out.find(work + "/en-de/b/model"), std::string::npos) << r.out;
  std::ifstream hyp(ensemble + "/test.hyp");
  int lines = 0;
  for (std::string line; std::getline(hyp, line);) ++lines;
  EXPECT_EQ(lines, 1000);
  EXPECT_TRUE(fs::exists(ensemble + "/bleu.json"));
  EXPECT_TRUE(fs::exists(ensemble + "/chrf.json"));
  // An ensemble has no training of its own: its summary row says so with "-", never zeros.
  const auto row_start = r.out.find("| en -> de | ensemble-a+b |");
  EXPECT_NE(row_start, std::string::npos) << r.out;
  const std::string row =
      row_start == std::string::npos ? "" : r.out.substr(row_start, r.out.find('\n', row_start) - row_start);
  EXPECT_NE(row.find("| - | - | - | - | - | - |"), std::string::npos) << row;
  EXPECT_EQ(row.find("0.00 (0)"), std::string::npos) << row;
  // The weights were chosen on val among equal, each member doubled and each member alone: the
  // chosen one scores at least as well there as every other try, each member alone included.
  const auto check_tries = [](const std::string& folder, const std::vector<std::string>& names) {
    const std::string tries = test::read_file(folder + "/weights.txt");
    std::map<std::string, double> bleu;
    std::istringstream try_lines(tries);
    std::string chosen;
    for (std::string line; std::getline(try_lines, line);) {
      std::istringstream fields(line);
      std::string name, val, metric;
      double score = 0;
      if (line.find("chosen: ") != std::string::npos) {
        chosen = line.substr(line.find("chosen: ") + 8);
      } else if (fields >> name >> val >> metric >> score) {
        bleu[name.substr(0, name.size() - 1)] = score;
      }
    }
    ASSERT_EQ(bleu.size(), names.size()) << tries;
    for (const auto& name : names) EXPECT_EQ(bleu.count(name), 1u) << name;
    ASSERT_EQ(bleu.count(chosen), 1u) << tries;
    for (const auto& [name, score] : bleu) EXPECT_GE(bleu[chosen], score) << name << "\n" << tries;
  };
  check_tries(ensemble, {"equal", "a-double", "b-double", "a-alone", "b-alone"});
  // With three members, each one left out is tried too.
  r = test::run_recipe("multi30k", work, "--data-dir " + data.string() + " --ensemble a,b,c --threads 1 --beam-size 1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  check_tries(work + "/en-de/ensemble-a+b+c", {"equal", "a-double", "b-double", "c-double", "a-alone", "b-alone",
                                               "c-alone", "without-a", "without-b", "without-c"});
}

}  // namespace
}  // namespace tandem
