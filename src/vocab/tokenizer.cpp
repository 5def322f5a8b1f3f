#include "tandem/vocab/tokenizer.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "spm_library.h"
#include "tandem/error.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::vocab {

struct Tokenizer::Handle {
  const detail::SpmLibrary* lib = nullptr;
  void* sp = nullptr;
  ~Handle() {
    if (sp != nullptr) lib->free(sp);
  }
};

Tokenizer::Tokenizer(std::shared_ptr<const Handle> handle, std::string bytes, int32_t vocab_size)
    : handle_(std::move(handle)), bytes_(std::move(bytes)), vocab_size_(vocab_size) {}

Tokenizer Tokenizer::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the SentencePiece model; check the path");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return from_bytes(bytes.str(), path);
}

Tokenizer Tokenizer::from_bytes(std::string bytes, const std::string& origin) {
  const auto& lib = detail::SpmLibrary::get();
  if (bytes.empty()) throw Error(origin + ": the SentencePiece model is empty; retrain it with tandem-vocab");
  char err[detail::kErrorCapacity] = {0};
  void* sp = lib.load(bytes.data(), bytes.size(), err, sizeof(err));
  if (sp == nullptr) {
    throw Error(origin + ": not a valid SentencePiece model (" + err +
                "); retrain it with tandem-vocab");
  }
  auto handle = std::make_shared<Handle>();
  handle->lib = &lib;
  handle->sp = sp;

  const struct {
    int32_t which;
    int32_t expected;
    const char* name;
  } specials[] = {{0, kPadId, "pad"}, {1, kUnkId, "unk"}, {2, kBosId, "bos"}, {3, kEosId, "eos"}};
  for (const auto& s : specials) {
    const int32_t actual = lib.special_id(sp, s.which);
    if (actual != s.expected) {
      throw Error(origin + ": the model's " + s.name + " id is " + std::to_string(actual) +
                  ", Tandem needs pad=0 unk=1 bos=2 eos=3; retrain the vocabulary with tandem-vocab");
    }
  }
  const int32_t size = lib.piece_size(sp);
  return Tokenizer(std::move(handle), std::move(bytes), size);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  char err[detail::kErrorCapacity] = {0};
  std::vector<int32_t> ids(text.size() + 8);
  size_t needed = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (handle_->lib->encode(handle_->sp, text.data(), text.size(), ids.data(), ids.size(), &needed,
                             err, sizeof(err)) != 0) {
      throw Error(std::string("SentencePiece could not encode a line: ") + err);
    }
    if (needed <= ids.size()) break;
    ids.resize(needed);
  }
  ids.resize(needed);
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  char err[detail::kErrorCapacity] = {0};
  for (const int32_t id : ids) {
    if (id < 0 || id >= vocab_size_) {
      throw Error("cannot decode id " + std::to_string(id) + ": the vocabulary has " +
                  std::to_string(vocab_size_) + " pieces");
    }
  }
  std::string text(ids.size() * 8 + 16, '\0');
  size_t needed = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (handle_->lib->decode(handle_->sp, ids.data(), ids.size(), text.data(), text.size(), &needed,
                             err, sizeof(err)) != 0) {
      throw Error(std::string("SentencePiece could not decode ids: ") + err);
    }
    if (needed <= text.size()) break;
    text.resize(needed);
  }
  text.resize(needed);
  return text;
}

std::string Tokenizer::piece(int32_t id) const {
  char err[detail::kErrorCapacity] = {0};
  std::string out(64, '\0');
  size_t needed = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (handle_->lib->id_to_piece(handle_->sp, id, out.data(), out.size(), &needed, err,
                                  sizeof(err)) != 0) {
      throw Error(err);
    }
    if (needed <= out.size()) break;
    out.resize(needed);
  }
  out.resize(needed);
  return out;
}

}  // namespace tandem::vocab
