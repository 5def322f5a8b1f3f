// The command-line programs, run as a user runs them.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "tandem/translator.h"

namespace tandem {
namespace {

using test::run_program;
using test::shell_quote;

struct BleuFiles {
  std::string ref;
  std::string hyp;
};

BleuFiles bleu_files() {
  const std::string dir = test::temp_dir();
  BleuFiles f{dir + "/ref.de", dir + "/hyp.de"};
  test::write_file(f.ref, "Ein Hund läuft im Park.\nZwei Kinder spielen.\nDie Sonne scheint.\n");
  test::write_file(f.hyp, "Ein Hund rennt im Park.\nZwei Kinder spielen.\nDie Sonne scheint hell.");
  return f;
}

TEST(BleuProgramTest, JsonByDefaultFromStandardInput) {
  const auto f = bleu_files();
  const auto r = run_program("tandem-bleu", shell_quote(f.ref), test::read_file(f.hyp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["name"], "BLEU");
  EXPECT_EQ(j["signature"], "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
  EXPECT_GT(j["score"].get<double>(), 40.0);
  EXPECT_NE(r.err.find("CPU thread"), std::string::npos);  // the thread count is announced
}

TEST(BleuProgramTest, SacreBleuShortFlagsAndTextFormat) {
  const auto f = bleu_files();
  const auto full = run_program("tandem-bleu", shell_quote(f.ref) + " --input " + shell_quote(f.hyp) +
                                                   " --tokenize intl --lowercase --format text --width 2");
  const auto brief = run_program("tandem-bleu", shell_quote(f.ref) + " -i " + shell_quote(f.hyp) +
                                                    " -tok intl -lc -f text -w 2");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_EQ(full.out, brief.out);
  EXPECT_EQ(full.out.rfind("BLEU|nrefs:1|case:lc|eff:no|tok:intl|smooth:exp|version:2.6.0 = ", 0), 0u)
      << full.out;
}

TEST(BleuProgramTest, SentenceLevelPrintsOneLinePerHypothesis) {
  const auto f = bleu_files();
  const auto r = run_program("tandem-bleu", shell_quote(f.ref) + " -i " + shell_quote(f.hyp) + " -sl -b");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(r.out.find('\n') + 1, 6), "100.0\n");  // line 2 is identical
  int lines = 0;
  for (const char c : r.out) lines += c == '\n';
  EXPECT_EQ(lines, 3);
}

TEST(BleuProgramTest, SeveralReferenceFilesOrTabSeparatedReferences) {
  const std::string dir = test::temp_dir();
  test::write_file(dir + "/r1", "a cat sat here\n");
  test::write_file(dir + "/r2", "the cat sat on the mat\n");
  test::write_file(dir + "/both", "a cat sat here\tthe cat sat on the mat\n");
  test::write_file(dir + "/hyp", "the cat sat on the mat\n");
  const auto files = run_program("tandem-bleu", dir + "/r1 " + dir + "/r2 -i " + dir + "/hyp -b");
  const auto tabs = run_program("tandem-bleu", dir + "/both -nr 2 -i " + dir + "/hyp -b");
  ASSERT_EQ(files.exit_code, 0) << files.err;
  EXPECT_EQ(files.out, "100.0\n");
  EXPECT_EQ(tabs.out, files.out);
}

TEST(BleuProgramTest, LineCountMismatchIsAnError) {
  const auto f = bleu_files();
  const auto r = run_program("tandem-bleu", shell_quote(f.ref), "only one line\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("1 lines but reference"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("has 3"), std::string::npos) << r.err;
}

TEST(BleuProgramTest, BadInputGivesClearErrors) {
  const auto f = bleu_files();
  auto r = run_program("tandem-bleu", "/nonexistent/ref.de", "x\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/ref.de"), std::string::npos) << r.err;
  r = run_program("tandem-bleu", shell_quote(f.ref), "ok\nbad \xff\nok\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("(standard input):2: invalid UTF-8"), std::string::npos) << r.err;
  r = run_program("tandem-bleu", shell_quote(f.ref) + " --tokenize klingon", "a\nb\nc\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("klingon"), std::string::npos) << r.err;
  r = run_program("tandem-bleu", shell_quote(f.ref) + " --frobnicate", "a\nb\nc\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("frobnicate"), std::string::npos) << r.err;
  r = run_program("tandem-bleu", "", "a\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no reference file"), std::string::npos) << r.err;
}

TEST(BleuProgramTest, HelpAndVersion) {
  auto r = run_program("tandem-bleu", "--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--smooth-method"), std::string::npos);
  r = run_program("tandem-bleu", "-V");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("2.6.0"), std::string::npos);
}

TEST(VocabProgramTest, TrainsAModelTheTokenizerLoads) {
  const std::string dir = test::temp_dir();
  std::string text;
  for (int i = 0; i < 10; ++i) {
    for (const auto& s : test::sample_sentences()) text += s + "\n";
  }
  test::write_gzip(dir + "/text.gz", text);
  const auto r = run_program("tandem-vocab", "-i " + dir + "/text.gz -o " + dir + "/v.spm --vocab-size 160 "
                                             "--model-type bpe --cpu-threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("160 pieces"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("1 CPU thread"), std::string::npos) << r.err;
  const auto tok = vocab::Tokenizer::load(dir + "/v.spm");
  EXPECT_EQ(tok.vocab_size(), 160);
}

TEST(VocabProgramTest, MissingArgumentsAndBadFiles) {
  auto r = run_program("tandem-vocab", "-o x.spm");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("input"), std::string::npos) << r.err;
  r = run_program("tandem-vocab", "-i /nonexistent/text -o /tmp/x.spm");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/text"), std::string::npos) << r.err;
}

TEST(CorpusProgramTest, ReportsKeptAndSkippedPairsAndBatches) {
  const std::string dir = test::temp_dir();
  test::write_file(dir + "/s", "Zwei Hunde.\n\nEin Mann.\n");
  test::write_file(dir + "/t", "Two dogs.\nnothing\nA man.\n");
  const auto r = run_program("tandem-corpus", "-t " + dir + "/s " + dir + "/t -v " + test::sample_model_path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3 lines: 2 pairs kept, 1 skipped (1 empty"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("batches: 1 in epoch 0"), std::string::npos) << r.out;
}

TEST(CorpusProgramTest, MisalignedFilesAreAnError) {
  const std::string dir = test::temp_dir();
  test::write_file(dir + "/s", "a\nb\n");
  test::write_file(dir + "/t", "a\n");
  const auto r = run_program("tandem-corpus", "-t " + dir + "/s " + dir + "/t -v " + test::sample_model_path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("has 2 lines"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("has 1;"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tandem

namespace tandem {
namespace {

TEST(TrainProgramTest, TrainsResumesAndReadsAConfigFile) {
  const std::string dir = test::temp_dir();
  std::string text;
  for (const auto& s : test::sample_sentences()) text += s + "\n";
  test::write_file(dir + "/train.src", text);
  test::write_file(dir + "/train.tgt", text);
  test::write_file(dir + "/config.ini", "dim-emb = 8\ndim-rnn = 16\nmini-batch = 4\ncell = rnn\nafter-updates = 99\n");
  const std::string common = "--model " + dir + "/m --train-sets " + dir + "/train.src " + dir + "/train.tgt --vocabs " +
                             test::sample_model_path() + " --valid-sets " + dir + "/train.src " + dir +
                             "/train.tgt --valid-freq 2 --disp-freq 1 --cpu-threads 1 --config " + dir + "/config.ini";
  auto r = run_program("tandem-train", common + " --after-updates 2 --cell lstm");  // the command line wins
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("1 CPU thread"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("lstm"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("valid · up 2"), std::string::npos) << r.err;
  r = run_program("tandem-train", common + " --after-updates 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming from"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stopped after 4 updates"), std::string::npos) << r.err;
  r = run_program("tandem-train", common + " --dump-config");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("dim-rnn = 16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("after-updates = 99"), std::string::npos) << r.out;
}

TEST(TrainProgramTest, BadOptionsAndFilesGiveClearErrors) {
  const std::string dir = test::temp_dir();
  auto r = run_program("tandem-train", "--model " + dir + "/m");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--train-sets"), std::string::npos) << r.err;
  r = run_program("tandem-train", "--model " + dir + "/m -t a b --cell transformer");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("transformer"), std::string::npos) << r.err;
  test::write_file(dir + "/s", "a\nb\n");
  test::write_file(dir + "/t", "a\n");
  r = run_program("tandem-train", "--model " + dir + "/m -t " + dir + "/s " + dir + "/t --vocabs " +
                                      test::sample_model_path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not line-aligned"), std::string::npos) << r.err;
  test::write_file(dir + "/m2.ckpt", "garbage");
  std::filesystem::create_directories(dir + "/m2");
  test::write_file(dir + "/m2/model.ckpt", "garbage");
  r = run_program("tandem-train", "--model " + dir + "/m2 -t " + dir + "/s " + dir + "/s");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model.ckpt"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tandem

namespace tandem {
namespace {

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
  r = run_program("tandem-score", "-m " + d + "/model -t " + d + "/s.txt /nonexistent/t");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/t"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tandem

namespace tandem {
namespace {

// The main job in miniature: the dates recipe end to end with a small corpus
// and few updates (seconds), checking that every stage ran and scored.
TEST(DatesRecipeSmokeTest, RunsEndToEnd) {
  const std::string work = test::temp_dir();
  const std::string command = "TANDEM_SKIP_SETUP=1 TANDEM_DATES_WORK=" + work + " TRAIN_SIZE=2000 TRAIN_UPDATES=60 bash " +
                              std::string(TANDEM_SOURCE_DIR) + "/recipes/dates/run.sh > " + work + "/out.txt 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << test::read_file(work + "/out.txt");
  const auto out = test::read_file(work + "/out.txt");
  for (const char* stage : {"== data", "== vocabulary", "== corpus check", "== training", "== translating the test split",
                            "== scores on the test split", "tandem (beam 5)", "exact match"}) {
    EXPECT_NE(out.find(stage), std::string::npos) << stage << "\n" << out;
  }
  // One translation per test line.
  const auto translations = test::read_file(work + "/test.out");
  EXPECT_EQ(std::count(translations.begin(), translations.end(), '\n'), 1000);
}

}  // namespace
}  // namespace tandem
