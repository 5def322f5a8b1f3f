#include "tandem/util/utf8.h"

#include <gtest/gtest.h>

namespace tandem::util {
namespace {

TEST(Utf8Test, AcceptsValidText) {
  EXPECT_FALSE(find_invalid_utf8("Grüße, 世界 😀"));
  EXPECT_FALSE(find_invalid_utf8(""));
}

TEST(Utf8Test, FindsTheFirstBadByte) {
  EXPECT_EQ(find_invalid_utf8("ab\xff"), 2u);
  EXPECT_EQ(find_invalid_utf8("\xc3"), 0u);                // truncated
  EXPECT_EQ(find_invalid_utf8("x\xc0\xaf"), 1u);           // overlong '/'
  EXPECT_EQ(find_invalid_utf8("\xed\xa0\x80"), 0u);        // surrogate
  EXPECT_EQ(find_invalid_utf8("\xf4\x90\x80\x80"), 0u);    // above U+10FFFF
}

TEST(Utf8Test, DecodeEncodeRoundTrip) {
  const std::string text = "Příliš 🍕 東京";
  EXPECT_EQ(encode_utf8(decode_utf8(text)), text);
  EXPECT_EQ(decode_utf8("🍕").size(), 1u);
}

TEST(Utf8Test, ReplacesInvalidBytes) {
  std::string text = "a\xff" "b\xc3";
  EXPECT_EQ(replace_invalid_utf8(text), 2u);
  EXPECT_EQ(text, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
  std::string fine = "ok";
  EXPECT_EQ(replace_invalid_utf8(fine), 0u);
}

}  // namespace
}  // namespace tandem::util
