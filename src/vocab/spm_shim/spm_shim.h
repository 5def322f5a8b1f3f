// The C interface of libtandem_spm_shim.so, the only code that links SentencePiece.
//
// Why a separate library: Debian's libsentencepiece carries its own protobuf-lite
// 3.14 while LibTorch links protobuf 3.21; in one link namespace they crash
// (../shared/ENVIRONMENT.md, trap 1). The shim is loaded with
// dlmopen(LM_ID_NEWLM), so it gets its own copy of protobuf, libstdc++ and libc.
// Only C types cross this boundary: no std::string, no exceptions, and memory
// allocated on one side is never freed on the other.
//
// Every function that can fail returns 0 on success and writes a NUL-terminated
// message into `err` (at most `err_cap` bytes) otherwise.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Loads a model from its serialized bytes; returns a handle or NULL (see err).
void* tandem_spm_load(const char* bytes, size_t size, char* err, size_t err_cap);

/// Releases a handle from tandem_spm_load.
void tandem_spm_free(void* handle);

/// Number of pieces in the model.
int32_t tandem_spm_piece_size(const void* handle);

/// Special ids of the model: which = 0 pad, 1 unk, 2 bos, 3 eos (-1 when unset).
int32_t tandem_spm_special_id(const void* handle, int32_t which);

/// Encodes UTF-8 text into ids. Writes at most `cap` ids and sets `*n_ids` to the
/// number the text needs; the caller retries with a larger buffer when
/// `*n_ids > cap`.
int tandem_spm_encode(const void* handle, const char* text, size_t len, int32_t* ids, size_t cap,
                      size_t* n_ids, char* err, size_t err_cap);

/// Decodes ids into UTF-8 text, with the same retry contract on `cap`/`*n_bytes`.
int tandem_spm_decode(const void* handle, const int32_t* ids, size_t n_ids, char* out, size_t cap,
                      size_t* n_bytes, char* err, size_t err_cap);

/// Copies the piece of `id` into `out` with the same retry contract.
int tandem_spm_id_to_piece(const void* handle, int32_t id, char* out, size_t cap, size_t* n_bytes,
                           char* err, size_t err_cap);

/// Trains a model from `n` SentencePiece trainer options, names[i] = values[i]
/// ("input" = a path, "model_prefix" = a path, "vocab_size" = "8000", ...); each
/// value is taken whole, so paths may hold spaces.
int tandem_spm_train(const char* const* names, const char* const* values, size_t n, char* err, size_t err_cap);

#ifdef __cplusplus
}
#endif
