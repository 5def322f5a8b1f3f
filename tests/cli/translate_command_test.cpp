// tandem-translate and tandem-score, run as a user runs them.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "tandem/translator.h"
#include "test_support.h"

namespace tandem {
namespace {

using test::run_program;

// A tiny trained checkpoint shared by the translation program tests.
const std::string& tiny_checkpoint_dir() {
  static const std::string dir = [] {
    const std::string d = test::temp_dir();
    std::string text;
    for (const auto& s : test::sample_sentences()) text += s + "\n";
    test::write_file(d + "/train.txt", text);
    const auto r = run_program("tandem-train", "--model " + d + "/model -t " + d + "/train.txt " + d +
                                                   "/train.txt --vocabs " + test::sample_model_path() +
                                                   " --dim-emb 8 --dim-rnn 16 --after-updates 3 --valid-freq 0"
                                                   " --cpu-threads 1 --quiet");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return d;
  }();
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

TEST(TranslateProgramTest, NBestScoresMatchTandemScore) {
  const auto& d = tiny_checkpoint_dir();
  const auto r = run_program("tandem-translate", "-m " + d + "/model -b 3 --n-best --quiet", "Zwei Hunde spielen.\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3);
  const auto first = r.out.substr(0, r.out.find('\n'));
  const auto text_start = first.find(" ||| ") + 5;
  const auto text = first.substr(text_start, first.find(" ||| ", text_start) - text_start);
  const double f0 = std::stod(first.substr(first.find("F0= ") + 4));
  test::write_file(d + "/s.txt", "Zwei Hunde spielen.\n");
  test::write_file(d + "/t.txt", text + "\n");
  const auto scored = run_program("tandem-score", "-m " + d + "/model -t " + d + "/s.txt " + d + "/t.txt");
  ASSERT_EQ(scored.exit_code, 0) << scored.err;
  // The program scores the text as the library does (the library test checks
  // n-best scores against scoring the same pieces; text may re-encode into
  // other pieces, so the n-best F0 is only a sanity bound here).
  auto translator = Translator::load({d + "/model"}, torch::kCPU);
  const double library = translator.score({"Zwei Hunde spielen."}, {text}, 1)[0];
  EXPECT_NEAR(std::stod(scored.out), library, 1e-4);
  EXPECT_LT(f0, 0.0);
  const auto summary = run_program("tandem-score", "-m " + d + "/model -t " + d + "/s.txt " + d + "/t.txt --summary");
  EXPECT_NE(summary.out.find("perplexity"), std::string::npos) << summary.out;
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

