#include "tandem/util/fnv1a.h"

#include <gtest/gtest.h>

#include <string>

namespace tandem::util {
namespace {

// The reference values of FNV-1a 64 (Fowler, Noll and Vo's test vectors).
TEST(Fnv1aTest, GivesTheStandardValues) {
  EXPECT_EQ(fnv1a(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a("foobar"), 0x85944171f73967e8ULL);
}

TEST(Fnv1aTest, AddingInPiecesEqualsHashingAtOnce) {
  const std::string text = "Zwei Hunde spielen im Schnee.";
  Fnv1a pieces;
  pieces.add(text.data(), 4);
  pieces.add(text.data() + 4, text.size() - 4);
  EXPECT_EQ(pieces.value(), fnv1a(text));
  EXPECT_NE(fnv1a(text), fnv1a(text + " "));
}

}  // namespace
}  // namespace tandem::util
