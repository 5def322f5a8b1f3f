// chrF and chrF++ against sacreBLEU 2.6.0: every case of
// ../shared/peers/sacrebleu_chrf_cases.json through the library (the Python
// API's figure) and through tandem-bleu's sacreBLEU flags (the command line's),
// plus definitions checked by hand. Without ../shared the case tests fail
// (TANDEM_ALLOW_MISSING_SHARED=1 skips them).
#include "tandem/eval/chrf.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tandem/error.h"
#include "bleu_cli_case.h"
#include "test_support.h"

namespace tandem::eval {
namespace {

using nlohmann::json;

json load_chrf_cases() {
  const std::string dir = test::peers_dir();
  if (dir.empty()) return json::array();
  std::ifstream in(dir + "/sacrebleu_chrf_cases.json");
  return json::parse(in);
}

ChrfOptions chrf_options_of(const json& o) {
  ChrfOptions options;
  options.char_order = o.value("char_order", 6);
  options.word_order = o.value("word_order", 0);
  options.beta = o.value("beta", 2);
  options.lowercase = o.value("lowercase", false);
  options.whitespace = o.value("whitespace", false);
  return options;
}

TEST(ChrfCasesTest, LibraryGivesSacreBleusFigures) {
  const auto cases = load_chrf_cases();
  TANDEM_REQUIRE_SHARED(cases.empty(), "../shared/peers/sacrebleu_chrf_cases.json");
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto hyps = c["hyps"].get<std::vector<std::string>>();
    std::vector<std::vector<std::string>> refs(hyps.size());
    for (const auto& stream : c["refs"]) {
      for (size_t i = 0; i < hyps.size(); ++i) refs[i].push_back(stream[i].get<std::string>());
    }
    // The Python API's figure (the command line's differs only where lines are right-stripped).
    const double expected = c.contains("api_score") ? c["api_score"].get<double>() : c["expected_score"].get<double>();
    EXPECT_NEAR(Chrf(chrf_options_of(c["options"])).corpus_score(hyps, refs), expected, c["tolerance"].get<double>());
  }
  EXPECT_EQ(cases.size(), 57u);
}

TEST(ChrfCasesTest, ProgramGivesSacreBleusFiguresFromItsFlags) {
  const auto cases = load_chrf_cases();
  TANDEM_REQUIRE_SHARED(cases.empty(), "../shared/peers/sacrebleu_chrf_cases.json");
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto result = test::run_bleu_cli_case(c);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NEAR(std::stod(result.out), c["expected_score"].get<double>(), c["tolerance"].get<double>());
  }
}

TEST(ChrfTest, DefinitionsByHand) {
  // "ab" against "ab": every order matches where it exists; 3..6-grams are absent on both sides.
  EXPECT_DOUBLE_EQ(Chrf().sentence_score("ab", {"ab"}), 100.0);
  EXPECT_DOUBLE_EQ(Chrf().sentence_score("xy", {"ab"}), 0.0);
  // "abc" vs "abd", unigrams 2/3, bigrams 1/2 (precision = recall): F = mean = 7/12.
  ChrfOptions two;
  two.char_order = 2;
  EXPECT_NEAR(Chrf(two).sentence_score("abc", {"abd"}), 100.0 * (2.0 / 3 + 0.5) / 2, 1e-12);
  // Whitespace is dropped unless asked for; case matters unless lowercased.
  EXPECT_DOUBLE_EQ(Chrf().sentence_score("a b c", {"abc"}), 100.0);
  ChrfOptions lower;
  lower.lowercase = true;
  EXPECT_LT(Chrf().sentence_score("ABC", {"abc"}), 1.0);
  EXPECT_DOUBLE_EQ(Chrf(lower).sentence_score("ABC", {"abc"}), 100.0);
  // The best of two references counts.
  EXPECT_DOUBLE_EQ(Chrf().sentence_score("abc", {"xyz", "abc"}), 100.0);
  ChrfOptions plus;
  plus.word_order = 2;
  EXPECT_EQ(Chrf(plus).name(), "chrF2++");
  EXPECT_EQ(Chrf().signature(1, false), "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0");
  EXPECT_EQ(Chrf(plus).signature(2, true), "#:2|c:mixed|e:yes|nc:6|nw:2|s:no|v:2.6.0");
  ChrfOptions none;
  none.char_order = 0;
  EXPECT_THROW(Chrf{none}, Error);
}

TEST(ChrfTest, TandemBleuPrintsBothMetricsAndComparesSystems) {
  const std::string dir = test::temp_dir();
  std::string ref, good, bad;
  for (int i = 0; i < 40; ++i) {
    const std::string s = "A man number " + std::to_string(i) + " rides a red bicycle down the street.";
    ref += s + "\n";
    good += (i % 4 == 0 ? "A man rides a bicycle down the street." : s) + "\n";
    bad += (i % 2 == 0 ? "Someone is outside." : s) + "\n";
  }
  test::write_file(dir + "/ref", ref);
  test::write_file(dir + "/good", good);
  test::write_file(dir + "/bad", bad);
  auto r = test::run_program("tandem-bleu", dir + "/ref -i " + dir + "/good -m bleu chrf -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto both = json::parse(r.out);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0]["name"], "BLEU");
  EXPECT_EQ(both[1]["name"], "chrF2");
  EXPECT_EQ(both[1]["signature"], "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0");

  const std::string paired = dir + "/ref -i " + dir + "/bad " + dir + "/good --paired-bs -m bleu chrf -q";
  r = test::run_program("tandem-bleu", paired);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1000 resamples, seed 12345"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Baseline: " + dir + "/bad "), std::string::npos) << r.out;  // a space after a long name
  EXPECT_NE(r.out.find(dir + "/good "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0.0010*"), std::string::npos) << r.out;  // good is better in every resample
  // Reproducible for a seed, and the seed matters.
  EXPECT_EQ(test::run_program("tandem-bleu", paired).out, r.out);
  ::setenv("SACREBLEU_SEED", "7", 1);
  const auto other_seed = test::run_program("tandem-bleu", paired);
  ::unsetenv("SACREBLEU_SEED");
  EXPECT_NE(other_seed.out, r.out);
  EXPECT_NE(other_seed.out.find("seed 7"), std::string::npos) << other_seed.out;
  r = test::run_program("tandem-bleu", dir + "/ref -i " + dir + "/bad " + dir + "/good -q");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--paired-bs"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tandem::eval
