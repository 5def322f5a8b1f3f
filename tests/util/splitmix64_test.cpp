#include "tandem/util/splitmix64.h"

#include <gtest/gtest.h>

namespace tandem::util {
namespace {

// SplitMix64 seeded with 0 (state advanced by the gamma before each mix):
// the reference generator's first outputs.
TEST(SplitMix64Test, GivesTheReferenceGeneratorsOutputs) {
  EXPECT_EQ(splitmix64(0), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(splitmix64(kGoldenGamma), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(splitmix64(2 * kGoldenGamma), 0x06C45D188009454FULL);
}

}  // namespace
}  // namespace tandem::util
