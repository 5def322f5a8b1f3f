// Every case in ../shared/peers/sacrebleu_cases.json and
// sacrebleu_stats_cases.json: the library and the tandem-bleu program must give
// sacreBLEU 2.6.0's figures (score within the case's tolerance; counts, totals
// and lengths exactly). Without ../shared they fail (TANDEM_ALLOW_MISSING_SHARED=1 skips them).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tandem/eval/bleu.h"
#include "bleu_cli_case.h"
#include "test_support.h"

namespace tandem::eval {
namespace {

using nlohmann::json;

json load_cases(const std::string& name) {
  const std::string dir = test::peers_dir();
  if (dir.empty()) return json::array();
  std::ifstream in(dir + "/" + name);
  return json::parse(in);
}

BleuOptions options_of(const json& o) {
  BleuOptions options;
  if (o.contains("tokenize")) options.tokenizer = parse_bleu_tokenizer(o["tokenize"].get<std::string>());
  options.smoothing = parse_smoothing(o["smooth_method"].get<std::string>());
  if (!o["smooth_value"].is_null()) options.smooth_value = o["smooth_value"].get<double>();
  options.lowercase = o.value("lowercase", false);
  options.effective_order = o["use_effective_order"].get<bool>();
  options.max_ngram_order = o["max_ngram_order"].get<int>();
  return options;
}

// references[i]: the non-null references of segment i.
std::vector<std::vector<std::string>> per_segment(const json& streams, size_t n) {
  std::vector<std::vector<std::string>> refs(n);
  for (const auto& stream : streams) {
    for (size_t i = 0; i < n; ++i) {
      if (!stream[i].is_null()) refs[i].push_back(stream[i].get<std::string>());
    }
  }
  return refs;
}

void expect_matches(const BleuScore& score, const json& c) {
  const double tolerance = c["tolerance"].get<double>();
  EXPECT_NEAR(score.score, c["expected_score"].get<double>(), tolerance);
  if (c.contains("expected_counts")) {
    EXPECT_EQ(score.stats.counts, c["expected_counts"].get<std::vector<int64_t>>());
    EXPECT_EQ(score.stats.totals, c["expected_totals"].get<std::vector<int64_t>>());
    EXPECT_NEAR(score.bp, c["expected_bp"].get<double>(), 1e-6);
    const auto precisions = c["expected_precisions"].get<std::vector<double>>();
    ASSERT_EQ(score.precisions.size(), precisions.size());
    for (size_t i = 0; i < precisions.size(); ++i) EXPECT_NEAR(score.precisions[i], precisions[i], 1e-6);
  }
  EXPECT_EQ(score.stats.sys_len, c["sys_len"].get<int64_t>());
  EXPECT_EQ(score.stats.ref_len, c["ref_len"].get<int64_t>());
}

TEST(SacreBleuCasesTest, LibraryGivesSacreBleusFigures) {
  const auto cases = load_cases("sacrebleu_cases.json");
  TANDEM_REQUIRE_SHARED(cases.empty(), "../shared/peers/sacrebleu_cases.json");
  int checked = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const Bleu bleu(options_of(c["options"]));
    const auto hyps = c["hyps"].get<std::vector<std::string>>();
    const auto refs = per_segment(c["refs"], hyps.size());
    const auto score = c["sentence_level"].get<bool>() ? bleu.sentence_score(hyps.at(0), refs.at(0))
                                                       : bleu.corpus_score(hyps, refs);
    expect_matches(score, c);
    ++checked;
  }
  EXPECT_EQ(checked, 83);
}

TEST(SacreBleuCasesTest, StatisticsGiveSacreBleusScores) {
  const auto cases = load_cases("sacrebleu_stats_cases.json");
  TANDEM_REQUIRE_SHARED(cases.empty(), "../shared/peers/sacrebleu_stats_cases.json");
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    BleuStats stats;
    stats.counts = c["counts"].get<std::vector<int64_t>>();
    stats.totals = c["totals"].get<std::vector<int64_t>>();
    stats.sys_len = c["sys_len"].get<int64_t>();
    stats.ref_len = c["ref_len"].get<int64_t>();
    expect_matches(Bleu(options_of(c["options"])).score(stats), c);
  }
}

TEST(SacreBleuCasesTest, ProgramGivesSacreBleusFiguresFromItsFlags) {
  const auto cases = load_cases("sacrebleu_cases.json");
  TANDEM_REQUIRE_SHARED(cases.empty(), "../shared/peers/sacrebleu_cases.json");
  int checked = 0;
  for (const auto& c : cases) {
    if (c["cli_args"].is_null()) continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto result = test::run_bleu_cli_case(c);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NEAR(std::stod(result.out), c["expected_score"].get<double>(),
                std::max(c["tolerance"].get<double>(), 1e-8));
    ++checked;
  }
  EXPECT_GT(checked, 40);
}

}  // namespace
}  // namespace tandem::eval
