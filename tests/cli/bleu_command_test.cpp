// tandem-bleu, run as a user runs it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

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

}  // namespace
}  // namespace tandem
