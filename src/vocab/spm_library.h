// Internal: the SentencePiece shim, loaded once into its own link namespace.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tandem::vocab::detail {

/// Function table of libtandem_spm_shim.so (see spm_shim/spm_shim.h).
struct SpmLibrary {
  void* (*load)(const char*, size_t, char*, size_t) = nullptr;
  void (*free)(void*) = nullptr;
  int32_t (*piece_size)(const void*) = nullptr;
  int32_t (*special_id)(const void*, int32_t) = nullptr;
  int (*encode)(const void*, const char*, size_t, int32_t*, size_t, size_t*, char*, size_t) = nullptr;
  int (*decode)(const void*, const int32_t*, size_t, char*, size_t, size_t*, char*, size_t) = nullptr;
  int (*id_to_piece)(const void*, int32_t, char*, size_t, size_t*, char*, size_t) = nullptr;
  int (*train)(const char* const*, const char* const*, size_t, char*, size_t) = nullptr;

  /// The loaded library; throws tandem::Error naming every place looked in.
  static const SpmLibrary& get();
};

/// Size of the error buffers handed to the shim.
constexpr size_t kErrorCapacity = 2048;

}  // namespace tandem::vocab::detail
