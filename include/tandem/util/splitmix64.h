// SplitMix64's finalizer (Steele, Lea and Flood): a 64-bit mix whose outputs
// for consecutive inputs look independent. Tandem derives every random stream
// from the user's --seed with it (shuffles, dropout per worker and update,
// sampling per sentence), so the streams are the same on every machine.
//
// Usage:
//   const uint64_t stream_seed = tandem::util::splitmix64(seed ^ tandem::util::splitmix64(index));
#pragma once

#include <cstdint>

namespace tandem::util {

/// The golden-ratio increment of SplitMix64 (2^64 / phi).
constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;

constexpr uint64_t splitmix64(uint64_t x) {
  x += kGoldenGamma;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace tandem::util
