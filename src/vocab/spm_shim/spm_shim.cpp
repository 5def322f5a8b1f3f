// Implementation of the C interface in spm_shim.h on top of SentencePiece.
// Built as its own shared library and loaded with dlmopen; see spm_shim.h.
#include "spm_shim.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstring>
#include <exception>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

void set_error(char* err, size_t err_cap, const std::string& message) {
  if (err == nullptr || err_cap == 0) return;
  const size_t n = message.size() < err_cap - 1 ? message.size() : err_cap - 1;
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}

const sentencepiece::SentencePieceProcessor* processor(const void* handle) {
  return static_cast<const sentencepiece::SentencePieceProcessor*>(handle);
}

// Copies `bytes` into the caller's buffer under the retry contract.
void copy_out(const std::string& bytes, char* out, size_t cap, size_t* n_bytes) {
  *n_bytes = bytes.size();
  if (bytes.size() <= cap && !bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
}

}  // namespace

extern "C" {

void* tandem_spm_load(const char* bytes, size_t size, char* err, size_t err_cap) {
  try {
    auto* sp = new sentencepiece::SentencePieceProcessor();
    const auto status = sp->LoadFromSerializedProto(std::string(bytes, size));
    if (!status.ok()) {
      set_error(err, err_cap, status.ToString());
      delete sp;
      return nullptr;
    }
    return sp;
  } catch (const std::exception& e) {
    set_error(err, err_cap, e.what());
    return nullptr;
  }
}

void tandem_spm_free(void* handle) {
  delete static_cast<sentencepiece::SentencePieceProcessor*>(handle);
}

int32_t tandem_spm_piece_size(const void* handle) { return processor(handle)->GetPieceSize(); }

int32_t tandem_spm_special_id(const void* handle, int32_t which) {
  const auto* sp = processor(handle);
  switch (which) {
    case 0: return sp->pad_id();
    case 1: return sp->unk_id();
    case 2: return sp->bos_id();
    case 3: return sp->eos_id();
    default: return -1;
  }
}

int tandem_spm_encode(const void* handle, const char* text, size_t len, int32_t* ids, size_t cap,
                      size_t* n_ids, char* err, size_t err_cap) {
  try {
    std::vector<int> pieces;
    const auto status = processor(handle)->Encode(std::string(text, len), &pieces);
    if (!status.ok()) {
      set_error(err, err_cap, status.ToString());
      return 1;
    }
    *n_ids = pieces.size();
    for (size_t i = 0; i < pieces.size() && i < cap; ++i) ids[i] = pieces[i];
    return 0;
  } catch (const std::exception& e) {
    set_error(err, err_cap, e.what());
    return 1;
  }
}

int tandem_spm_decode(const void* handle, const int32_t* ids, size_t n_ids, char* out, size_t cap,
                      size_t* n_bytes, char* err, size_t err_cap) {
  try {
    const std::vector<int> pieces(ids, ids + n_ids);
    std::string text;
    const auto status = processor(handle)->Decode(pieces, &text);
    if (!status.ok()) {
      set_error(err, err_cap, status.ToString());
      return 1;
    }
    copy_out(text, out, cap, n_bytes);
    return 0;
  } catch (const std::exception& e) {
    set_error(err, err_cap, e.what());
    return 1;
  }
}

int tandem_spm_id_to_piece(const void* handle, int32_t id, char* out, size_t cap, size_t* n_bytes,
                           char* err, size_t err_cap) {
  const auto* sp = processor(handle);
  if (id < 0 || id >= sp->GetPieceSize()) {
    set_error(err, err_cap, "id " + std::to_string(id) + " is outside the vocabulary");
    return 1;
  }
  copy_out(sp->IdToPiece(id), out, cap, n_bytes);
  return 0;
}

int tandem_spm_train(const char* const* names, const char* const* values, size_t n, char* err, size_t err_cap) {
  try {
    std::unordered_map<std::string, std::string> options;
    for (size_t i = 0; i < n; ++i) options[names[i]] = values[i];
    const auto status = sentencepiece::SentencePieceTrainer::Train(options);
    if (!status.ok()) {
      set_error(err, err_cap, status.ToString());
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    set_error(err, err_cap, e.what());
    return 1;
  }
}

}  // extern "C"
