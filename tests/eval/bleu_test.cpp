#include "tandem/eval/bleu.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tandem/error.h"

namespace tandem::eval {
namespace {

TEST(BleuTest, ReadmeExampleOfSacreBleu) {
  // sacreBLEU's README: BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)
  const std::vector<std::string> hyps = {"The dog bit the man.", "It wasn't surprising.",
                                         "The man had just bitten him."};
  const std::vector<std::vector<std::string>> refs = {
      {"The dog bit the man.", "The dog had bit the man."},
      {"It was not unexpected.", "No one was surprised."},
      {"The man bit him first.", "The man had bitten the dog."}};
  const Bleu bleu;
  const auto score = bleu.corpus_score(hyps, refs);
  EXPECT_EQ(score.format(2, false, "", false),
            "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)");
  EXPECT_EQ(bleu.signature(2), "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
  EXPECT_EQ(bleu.corpus_score(hyps, refs, 4).score, score.score);  // threads do not matter
}

TEST(BleuTest, IdenticalIsHundredAndDisjointIsZero) {
  const Bleu bleu;
  EXPECT_DOUBLE_EQ(bleu.sentence_score("a b c d e", {"a b c d e"}).score, 100.0);
  const auto zero = bleu.sentence_score("v w x y z", {"a b c d e"});
  EXPECT_EQ(zero.score, 0.0);
  EXPECT_EQ(zero.precisions, std::vector<double>(4, 0.0));
}

TEST(BleuTest, ClippingBrevityAndClosestReference) {
  const Bleu bleu;
  // "the" occurs 3 times in the hypothesis but twice in the reference.
  const auto stats = bleu.segment_stats("the the the cat", {"the cat and the dog"});
  EXPECT_EQ(stats.counts[0], 3);  // the x2 + cat
  EXPECT_EQ(stats.totals[0], 4);
  EXPECT_EQ(stats.sys_len, 4);
  EXPECT_EQ(stats.ref_len, 5);
  // Equally close references: the shorter one counts.
  EXPECT_EQ(bleu.segment_stats("a b c d e", {"a b c", "a b c d e f g"}).ref_len, 3);
  const auto score = bleu.score(stats);
  EXPECT_DOUBLE_EQ(score.bp, std::exp(1.0 - 5.0 / 4.0));
}

TEST(BleuTest, SmoothingMethodsFollowTheirDefinitions) {
  BleuStats stats;
  stats.sys_len = 10;
  stats.ref_len = 10;
  stats.counts = {8, 4, 1, 0};
  stats.totals = {10, 9, 8, 7};
  BleuOptions options;
  options.smoothing = Smoothing::kExp;
  auto s = Bleu(options).score(stats);
  EXPECT_DOUBLE_EQ(s.precisions[3], 100.0 / (2 * 7));
  options.smoothing = Smoothing::kFloor;
  s = Bleu(options).score(stats);
  EXPECT_DOUBLE_EQ(s.precisions[3], 100.0 * 0.1 / 7);
  options.smoothing = Smoothing::kAddK;
  s = Bleu(options).score(stats);
  EXPECT_DOUBLE_EQ(s.precisions[1], 100.0 * 5 / 10);
  EXPECT_DOUBLE_EQ(s.precisions[0], 80.0);  // add-k leaves unigrams alone
  EXPECT_EQ(s.stats.counts, stats.counts);  // raw counts are reported
  options.smoothing = Smoothing::kNone;
  EXPECT_EQ(Bleu(options).score(stats).score, 0.0);
  const double expected = std::exp((std::log(80.0) + std::log(100.0 * 4 / 9) + std::log(100.0 / 8) +
                                    std::log(100.0 / 14)) / 4);
  options.smoothing = Smoothing::kExp;
  EXPECT_DOUBLE_EQ(Bleu(options).score(stats).score, expected);
}

TEST(BleuTest, EffectiveOrderForShortSentences) {
  BleuOptions options;
  options.effective_order = true;
  options.smoothing = Smoothing::kNone;
  // Two words: only unigrams and bigrams exist.
  EXPECT_DOUBLE_EQ(Bleu(options).sentence_score("hello there", {"hello there"}).score, 100.0);
  options.effective_order = false;
  EXPECT_EQ(Bleu(options).sentence_score("hello there", {"hello there"}).score, 0.0);
}

TEST(BleuTest, LowercaseAndSignatures) {
  BleuOptions options;
  options.lowercase = true;
  options.tokenizer = BleuTokenizer::kIntl;
  options.smoothing = Smoothing::kFloor;
  const Bleu bleu(options);
  EXPECT_DOUBLE_EQ(bleu.sentence_score("HELLO World", {"hello world"}).score,
                   Bleu(options).sentence_score("hello world", {"hello world"}).score);
  EXPECT_EQ(bleu.signature(1), "nrefs:1|case:lc|eff:no|tok:intl|smooth:floor[0.10]|version:2.6.0");
  EXPECT_EQ(bleu.signature(-1, true), "#:var|c:lc|e:no|tok:intl|s:floor[0.10]|v:2.6.0");
}

TEST(BleuTest, JsonFormatMatchesSacreBleu) {
  // sacreBLEU's test_raw_bleu "one word differs": 22.360679...
  BleuOptions options;
  options.tokenizer = BleuTokenizer::kNone;
  options.smoothing = Smoothing::kFloor;
  options.smooth_value = 0.01;
  options.effective_order = true;
  const Bleu bleu(options);
  const auto score = bleu.sentence_score("this is a fest", {"this is a test"});
  EXPECT_EQ(score.format(1, false, bleu.signature(1), true),
            "{\n \"name\": \"BLEU\",\n \"score\": 22.4,\n"
            " \"signature\": \"nrefs:1|case:mixed|eff:yes|tok:none|smooth:floor[0.01]|version:2.6.0\",\n"
            " \"verbose_score\": \"75.0/66.7/50.0/1.0 (BP = 1.000 ratio = 1.000 hyp_len = 4 ref_len = 4)\",\n"
            " \"nrefs\": \"1\",\n \"case\": \"mixed\",\n \"eff\": \"yes\",\n \"tok\": \"none\",\n"
            " \"smooth\": \"floor[0.01]\",\n \"version\": \"2.6.0\"\n}");
  EXPECT_EQ(score.format(3, true, "", false), "22.361");
  EXPECT_NE(score.format(0, false, "", true).find("\"score\": 22.0,"), std::string::npos);
}

TEST(BleuTest, Errors) {
  const Bleu bleu;
  EXPECT_THROW(bleu.segment_stats("a", {}), Error);
  EXPECT_THROW(bleu.corpus_score({"a", "b"}, {{"a"}}), Error);
  EXPECT_THROW(parse_smoothing("laplace"), Error);
}

}  // namespace
}  // namespace tandem::eval
