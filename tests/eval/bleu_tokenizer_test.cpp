#include "tandem/eval/bleu_tokenizer.h"

#include <gtest/gtest.h>

#include "tandem/error.h"

namespace tandem::eval {
namespace {

std::string tok(const std::string& line, BleuTokenizer t) { return tokenize_for_bleu(line, t); }

TEST(BleuTokenizerTest, Mteval13a) {
  const auto t = BleuTokenizer::k13a;
  EXPECT_EQ(tok("Hello, world!", t), "Hello , world !");
  EXPECT_EQ(tok("It costs $1,000.50.", t), "It costs $ 1,000.50 .");
  EXPECT_EQ(tok("1990-2000 and well-known", t), "1990 - 2000 and well-known");
  EXPECT_EQ(tok("&quot;Hi&quot; &amp; &lt;b&gt;", t), "\" Hi \" & < b >");
  EXPECT_EQ(tok("don't stop", t), "don't stop");
  EXPECT_EQ(tok("<skipped>a/b", t), "a / b");
  EXPECT_EQ(tok("Mr. Smith, 3.14", t), "Mr . Smith , 3.14");
  // Non-overlapping matches, as Python's re.sub: the second period of "a.." is
  // only split by the second rule.
  EXPECT_EQ(tok("a..b", t), "a . . b");
  EXPECT_EQ(tok("  spaced \t out  ", t), "spaced out");
}

TEST(BleuTokenizerTest, International) {
  const auto t = BleuTokenizer::kIntl;
  EXPECT_EQ(tok("Hello, world!", t), "Hello , world !");
  EXPECT_EQ(tok("«Bonjour», dit-il.", t), "« Bonjour » , dit - il .");
  EXPECT_EQ(tok("3,5 and 2019.", t), "3,5 and 2019.");  // mteval-v14 keeps a final "2019."
  EXPECT_EQ(tok("price: 5€ + 3$", t), "price : 5 € + 3 $");
  EXPECT_EQ(tok("مرحبا، كيف حالك؟", t), "مرحبا ، كيف حالك ؟");
}

TEST(BleuTokenizerTest, ChineseSplitsCjkWithSacreBleusRanges) {
  const auto t = BleuTokenizer::kZh;
  EXPECT_EQ(tok("我喜欢New York。", t), "我 喜 欢 New York 。");
  // sacreBLEU's '\u20000' range is really U+2001..U+2A6D: an em dash is split.
  EXPECT_EQ(tok("a—b", t), "a — b");
  EXPECT_EQ(tok("a—b", BleuTokenizer::k13a), "a—b");
  EXPECT_EQ(tok("ひらがな漢字", t), "ひらがな 漢 字");
}

TEST(BleuTokenizerTest, CharactersAndNone) {
  EXPECT_EQ(tok("ab c", BleuTokenizer::kChar), "a b c");
  EXPECT_EQ(tok("👍🏽", BleuTokenizer::kChar), "👍 🏽");
  EXPECT_EQ(tok("a  b,c", BleuTokenizer::kNone), "a  b,c");
}

TEST(BleuTokenizerTest, PythonWhitespaceAndCase) {
  EXPECT_TRUE(is_python_space(0x3000));
  EXPECT_TRUE(is_python_space(0x85));
  EXPECT_FALSE(is_python_space(0x200B));  // zero width space is not whitespace
  EXPECT_EQ(python_rstrip("text \t\xE3\x80\x80"), "text");
  EXPECT_EQ(python_lower("STRAßE ÄÖÜ"), "straße äöü");
  EXPECT_EQ(python_lower("ΟΔΟΣ"), "οδος");  // final sigma, as Python
}

TEST(BleuTokenizerTest, Names) {
  for (const char* name : {"none", "13a", "intl", "zh", "char"}) {
    EXPECT_EQ(bleu_tokenizer_name(parse_bleu_tokenizer(name)), name);
  }
  EXPECT_THROW(parse_bleu_tokenizer("ja-mecab"), Error);
}

}  // namespace
}  // namespace tandem::eval
