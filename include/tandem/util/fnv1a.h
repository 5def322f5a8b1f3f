// FNV-1a, 64 bits (the standard offset basis and prime): a checksum that is the
// same in every build and on every machine, for cache names and keys and for
// digests of weights. Not a cryptographic hash.
//
// Usage:
//   const uint64_t h = tandem::util::fnv1a(text);
//   tandem::util::Fnv1a digest;  digest.add(data, size);  ...  digest.value();
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tandem::util {

class Fnv1a {
 public:
  static constexpr uint64_t kOffsetBasis = 14695981039346656037ULL;  // 0xcbf29ce484222325
  static constexpr uint64_t kPrime = 1099511628211ULL;                // 0x100000001b3

  void add(const void* data, size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) hash_ = (hash_ ^ bytes[i]) * kPrime;
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = kOffsetBasis;
};

inline uint64_t fnv1a(std::string_view bytes) {
  Fnv1a h;
  h.add(bytes.data(), bytes.size());
  return h.value();
}

}  // namespace tandem::util
