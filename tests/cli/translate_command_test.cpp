// tandem-translate and tandem-score, run as a user runs them.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "tandem/translator.h"
#include "test_support.h"

namespace tandem {
namespace {

using test::run_program;

// Trains a tiny checkpoint into a new folder's model/; `extra` adds options.
std::string train_tiny_checkpoint(const std::string& extra) {
  const std::string d = test::temp_dir();
  std::string text;
  for (const auto& s : test::sample_sentences()) text += s + "\n";
  test::write_file(d + "/train.txt", text);
  const auto r = run_program("tandem-train", "--model " + d + "/model -t " + d + "/train.txt " + d +
                                                 "/train.txt --vocabs " + test::sample_model_path() +
                                                 " --dim-emb 8 --dim-rnn 16 --after-updates 3 --valid-freq 0"
                                                 " --cpu-threads 1 --quiet " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return d;
}

// A tiny trained checkpoint shared by the translation program tests.
const std::string& tiny_checkpoint_dir() {
  static const std::string dir = train_tiny_checkpoint("");
  return dir;
}

// A second one (another seed), for ensembles.
const std::string& second_checkpoint_dir() {
  static const std::string dir = train_tiny_checkpoint("--seed 77");
  return dir;
}

TEST(TranslateProgramTest, OneLineOutForEveryLineInFromStdinOrFile) {
  const auto& d = tiny_checkpoint_dir();
  const std::string input = "Ein Mann fährt.\n\n   \nbad \xff byte\r\nZwei Hunde.";
  auto r = run_program("tandem-translate", "-m " + d + "/model -b 2 --cpu-threads 1", input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 5);
  EXPECT_NE(r.err.find("5 sentences"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("input line 4"), std::string::npos) << r.err;  // the invalid byte is reported
  test::write_file(d + "/in.txt", input);
  const auto from_file = run_program("tandem-translate", "-m " + d + "/model -b 2 --quiet -i " + d + "/in.txt -o " +
                                                             d + "/out.txt --mini-batch 1 --maxi-batch 1");
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_EQ(test::read_file(d + "/out.txt"), r.out);  // batch size does not matter
  test::write_gzip(d + "/in.txt.gz", input);  // as Multi30k is published
  const auto from_gzip =
      run_program("tandem-translate", "-m " + d + "/model -b 2 --quiet -i " + d + "/in.txt.gz -o " + d + "/gz.txt");
  ASSERT_EQ(from_gzip.exit_code, 0) << from_gzip.err;
  EXPECT_EQ(test::read_file(d + "/gz.txt"), r.out);
}

// On a terminal the progress line of tandem-train's kind (rewritten in place,
// wiped before the summary); through a pipe none.
TEST(TranslateProgramTest, AProgressLineOnATerminalOnly) {
  if (std::system("command -v script > /dev/null 2>&1") != 0) GTEST_SKIP() << "script(1) is not installed";
  const auto& d = tiny_checkpoint_dir();
  std::string input;
  for (int i = 0; i < 50; ++i) input += "Ein Mann fährt.\n";
  test::write_file(d + "/progress.in", input);
  const std::string args = "-m " + d + "/model -b 2 --mini-batch 1 --maxi-batch 1 --cpu-threads 1 -i " + d + "/progress.in";
  const std::string command = std::string(TANDEM_BIN_DIR) + "/tandem-translate " + args + " -o " + d + "/tty.out";
  ASSERT_EQ(std::system(("script -qec " + test::shell_quote(command) + " " + d + "/typescript > /dev/null").c_str()), 0);
  const std::string typescript = test::read_file(d + "/typescript");
  EXPECT_NE(typescript.find(" sentences/s\033[K"), std::string::npos) << typescript;
  EXPECT_NE(typescript.find("\r\033[Ktandem-translate: 50 sentences"), std::string::npos) << typescript;
  const auto piped = run_program("tandem-translate", args + " -o " + d + "/pipe.out");
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.err.find('\r'), std::string::npos) << piped.err;
  EXPECT_EQ(test::read_file(d + "/tty.out"), test::read_file(d + "/pipe.out"));
}

// F0 of every n-best line is what tandem-score gives its text, for one model and
// for an ensemble (whose weights are normalized), when the text re-encodes to the
// same pieces; the library's hypotheses say which lines do.
TEST(TranslateProgramTest, NBestScoresMatchTandemScoreForModelsAndEnsembles) {
  const auto& d = tiny_checkpoint_dir();
  const auto& e = second_checkpoint_dir();
  const std::string sentence = "Zwei Hunde spielen.";
  const std::vector<std::string> model_sets = {d + "/model", d + "/model " + e + "/model --weights 3 1"};
  for (const auto& models : model_sets) {
    const auto r = run_program("tandem-translate", "-m " + models + " -b 3 --n-best --quiet", sentence + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3);
    std::istringstream lines(r.out);
    std::string texts;
    std::vector<double> f0;
    for (std::string line; std::getline(lines, line);) {
      const auto text_start = line.find(" ||| ") + 5;
      texts += line.substr(text_start, line.find(" ||| ", text_start) - text_start) + "\n";
      f0.push_back(std::stod(line.substr(line.find("F0= ") + 4)));
    }
    std::string sources;
    for (size_t i = 0; i < f0.size(); ++i) sources += sentence + "\n";
    test::write_file(d + "/s.txt", sources);
    test::write_file(d + "/t.txt", texts);
    const auto scored = run_program("tandem-score", "-m " + models + " -t " + d + "/s.txt " + d + "/t.txt");
    ASSERT_EQ(scored.exit_code, 0) << scored.err;
    std::istringstream scores(scored.out);
    const bool ensemble = models.find("--weights") != std::string::npos;
    auto translator = ensemble ? Translator::load({d + "/model", e + "/model"}, torch::kCPU, {3, 1})
                               : Translator::load({d + "/model"}, torch::kCPU);
    TranslateOptions options;
    options.search.beam_size = 3;
    const auto result = translator.translate({sentence}, options)[0];
    const auto source_ids = translator.source_tokenizer().encode(sentence);
    for (size_t i = 0; i < f0.size(); ++i) {
      double score = 0;
      ASSERT_TRUE(static_cast<bool>(scores >> score)) << scored.out;
      const auto& h = result.hypotheses[i];
      EXPECT_NEAR(h.score, f0[i], 1e-6);  // the program prints the library's scores
      // Forced decoding of the hypothesis's pieces under the same (weighted) ensemble gives F0.
      EXPECT_NEAR(translator.score_ids({source_ids}, {h.tokens}, 1)[0], f0[i], 1e-4) << models << " " << i;
      // tandem-score scores the text as the library does; where the text
      // re-encodes to the hypothesis's pieces, that is F0 itself.
      EXPECT_NEAR(score, translator.score({sentence}, {result.texts[i]}, 1)[0], 2e-6);
      if (translator.target_tokenizer().encode(result.texts[i]) == h.tokens) {
        EXPECT_NEAR(score, f0[i], 1e-4);
      }
    }
  }
  const auto summary = run_program("tandem-score", "-m " + d + "/model -t " + d + "/s.txt " + d + "/t.txt --summary");
  EXPECT_NE(summary.out.find("perplexity"), std::string::npos) << summary.out;
  const auto bad = run_program("tandem-score", "-m " + d + "/model " + e + "/model --weights 1 0 -t " + d +
                                                   "/s.txt " + d + "/t.txt");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--weights must be finite and above 0"), std::string::npos) << bad.err;
}

TEST(TranslateProgramTest, ScoringACrlfFileWithAByteOrderMarkEqualsThePlainFile) {
  const auto& d = tiny_checkpoint_dir();
  test::write_file(d + "/plain.src", "Ein Mann fährt.\nZwei Hunde spielen.\n");
  test::write_file(d + "/plain.tgt", "Ein Mann.\nZwei Hunde.\n");
  test::write_file(d + "/crlf.src", "\xEF\xBB\xBF" "Ein Mann fährt.\r\nZwei Hunde spielen.\r\n");
  test::write_file(d + "/crlf.tgt", "\xEF\xBB\xBF" "Ein Mann.\r\nZwei Hunde.\r\n");
  const auto plain = run_program("tandem-score", "-m " + d + "/model -t " + d + "/plain.src " + d + "/plain.tgt");
  const auto crlf = run_program("tandem-score", "-m " + d + "/model -t " + d + "/crlf.src " + d + "/crlf.tgt");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(crlf.exit_code, 0) << crlf.err;
  EXPECT_EQ(crlf.out, plain.out);
}

TEST(TranslateProgramTest, SamplesDoNotDependOnTheBatching) {
  const auto& d = tiny_checkpoint_dir();
  std::string input;
  for (int copy = 0; copy < 3; ++copy) {
    for (const auto& s : test::sample_sentences()) input += s + "\n";
  }
  const std::string common = "-m " + d + "/model --sampling full --seed 5 --quiet -b 1 ";
  const auto one = run_program("tandem-translate", common + "--mini-batch 1 --maxi-batch 1", input);
  const auto many = run_program("tandem-translate", common + "--mini-batch 64 --maxi-batch 100", input);
  const auto mixed = run_program("tandem-translate", common + "--mini-batch 3 --maxi-batch 2", input);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(many.out, one.out);
  EXPECT_EQ(mixed.out, one.out);
  // Equal lines are not equal samples: each line has its own stream.
  std::istringstream lines(one.out);
  std::vector<std::string> out;
  for (std::string line; std::getline(lines, line);) out.push_back(line);
  const size_t n = test::sample_sentences().size();
  ASSERT_EQ(out.size(), 3 * n);
  bool differs = false;
  for (size_t i = 0; i < n; ++i) differs = differs || out[i] != out[i + n] || out[i] != out[i + 2 * n];
  EXPECT_TRUE(differs);
  const auto other_seed = run_program("tandem-translate", "-m " + d + "/model --sampling full --seed 6 --quiet -b 1",
                                      input);
  EXPECT_NE(other_seed.out, one.out);
}

TEST(TranslateProgramTest, HelpShowsDefaultsAsWritten) {
  const auto r = run_program("tandem-translate", "--help");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(=2)"), std::string::npos) << r.out;  // --max-length-factor
  EXPECT_NE(r.out.find("--allow-unk"), std::string::npos) << r.out;
  const auto train = run_program("tandem-train", "--help");
  EXPECT_NE(train.out.find("--dropout-emb arg (=0.1)"), std::string::npos) << train.out;
  EXPECT_NE(train.out.find("--learn-rate ] arg (=0.001)"), std::string::npos) << train.out;
  for (const auto* out : {&r.out, &train.out}) {
    EXPECT_EQ(out->find("0000000"), std::string::npos) << *out;  // no 0.10000000000000001
  }
}

TEST(TranslateProgramTest, BadModelsAndOptionsGiveClearErrors) {
  const auto& d = tiny_checkpoint_dir();
  auto r = run_program("tandem-translate", "-m /nonexistent/model", "x\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/model"), std::string::npos) << r.err;
  test::write_file(d + "/broken.ckpt", "not a checkpoint");
  r = run_program("tandem-translate", "-m " + d + "/broken.ckpt", "x\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("broken.ckpt"), std::string::npos) << r.err;
  r = run_program("tandem-translate", "-m " + d + "/model --sampling maybe", "x\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("maybe"), std::string::npos) << r.err;
  test::write_file(d + "/source.txt", "Ein Mann.\n");
  r = run_program("tandem-score", "-m " + d + "/model -t " + d + "/source.txt /nonexistent/t");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/t"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tandem

