#include "tandem/vocab/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "spm_library.h"
#include "tandem/error.h"
#include "tandem/util/utf8.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::vocab {
namespace {

// The shim writes at most `capacity` items and reports how many it needs:
// call once, and again with the buffer grown when it was too small.
template <typename Buffer, typename Call>
Buffer call_growing(Buffer buffer, const Call& call, const std::string& what) {
  char err[detail::kErrorCapacity] = {0};
  size_t needed = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (call(buffer.data(), buffer.size(), &needed, err, sizeof(err)) != 0) throw Error(what + err);
    if (needed <= buffer.size()) break;
    buffer.resize(needed);
  }
  buffer.resize(needed);
  return buffer;
}

}  // namespace

struct Tokenizer::Handle {
  const detail::SpmLibrary* lib = nullptr;
  void* sp = nullptr;  // null for a words vocabulary
  // A words vocabulary: word of each id (specials empty), id of each word, id of an unknown word.
  std::vector<std::string> words;
  std::unordered_map<std::string, int32_t> ids;
  int32_t unknown = kUnkId;
  ~Handle() {
    if (sp != nullptr) lib->free(sp);
  }
};

namespace {

constexpr std::string_view kWordsHeader = "#tandem-words 1\n";

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::shared_ptr<Tokenizer::Handle> parse_words(const std::string& bytes, const std::string& origin) {
  auto handle = std::make_shared<Tokenizer::Handle>();
  handle->words.assign(kEosId + 1, std::string());
  size_t at = kWordsHeader.size();
  int64_t line = 1;
  while (at < bytes.size()) {
    const size_t end = std::min(bytes.find('\n', at), bytes.size());
    std::string word = bytes.substr(at, end - at);
    ++line;
    at = end + 1;
    const bool blank = std::any_of(word.begin(), word.end(), is_blank);
    if (word.empty() || blank) {
      throw Error(origin + ":" + std::to_string(line) + ": a words vocabulary holds one word a line, without " +
                  "spaces; this line is " + (word.empty() ? "empty" : "not one word") + "; rebuild it with tandem-vocab");
    }
    const auto id = static_cast<int32_t>(handle->words.size());
    if (!handle->ids.emplace(word, id).second) {
      throw Error(origin + ":" + std::to_string(line) + ": the word '" + word + "' is listed twice; rebuild it with tandem-vocab");
    }
    handle->words.push_back(std::move(word));
  }
  if (handle->words.size() == kEosId + 1) throw Error(origin + ": the words vocabulary lists no word");
  const auto unk = handle->ids.find("<unk>");
  if (unk != handle->ids.end()) handle->unknown = unk->second;
  return handle;
}

}  // namespace

Tokenizer::Tokenizer(std::shared_ptr<const Handle> handle, std::string bytes, int32_t vocab_size)
    : handle_(std::move(handle)), bytes_(std::move(bytes)), vocab_size_(vocab_size) {}

bool Tokenizer::is_word_level() const { return handle_->sp == nullptr; }

bool Tokenizer::maps_unknown_words() const { return is_word_level() && handle_->unknown != kUnkId; }

bool Tokenizer::is_character_level() const {
  if (is_word_level()) return false;
  for (int32_t id = kEosId + 1; id < vocab_size_; ++id) {
    const std::string text = piece(id);
    if (text.size() == 6 && text.rfind("<0x", 0) == 0) continue;  // a byte-fallback piece
    if (util::decode_utf8(text).size() > 1) return false;
  }
  return true;
}

Tokenizer Tokenizer::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the SentencePiece model; check the path");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return from_bytes(bytes.str(), path);
}

Tokenizer Tokenizer::from_bytes(std::string bytes, const std::string& origin) {
  if (bytes.compare(0, kWordsHeader.size(), kWordsHeader) == 0) {
    auto words = parse_words(bytes, origin);
    const auto size = static_cast<int32_t>(words->words.size());
    return Tokenizer(std::move(words), std::move(bytes), size);
  }
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
  const auto& h = *handle_;
  if (h.sp == nullptr) {
    std::vector<int32_t> out;
    size_t at = 0;
    while (at < text.size()) {
      if (is_blank(text[at])) {
        ++at;
        continue;
      }
      size_t end = at;
      while (end < text.size() && !is_blank(text[end])) ++end;
      const auto it = h.ids.find(std::string(text.substr(at, end - at)));
      out.push_back(it != h.ids.end() ? it->second : h.unknown);
      at = end;
    }
    return out;
  }
  return call_growing(
      std::vector<int32_t>(text.size() + 8),
      [&](int32_t* out, size_t cap, size_t* n, char* err, size_t err_cap) {
        return h.lib->encode(h.sp, text.data(), text.size(), out, cap, n, err, err_cap);
      },
      "SentencePiece could not encode a line: ");
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  for (const int32_t id : ids) {
    if (id < 0 || id >= vocab_size_) {
      throw Error("cannot decode id " + std::to_string(id) + ": the vocabulary has " +
                  std::to_string(vocab_size_) + " pieces");
    }
  }
  const auto& h = *handle_;
  if (h.sp == nullptr) {
    std::string text;
    for (const int32_t id : ids) {
      if (id == kPadId || id == kBosId || id == kEosId) continue;
      if (!text.empty()) text += ' ';
      text += id == kUnkId ? std::string("<unk>") : h.words[static_cast<size_t>(id)];
    }
    return text;
  }
  return call_growing(
      std::string(ids.size() * 8 + 16, '\0'),
      [&](char* out, size_t cap, size_t* n, char* err, size_t err_cap) {
        return h.lib->decode(h.sp, ids.data(), ids.size(), out, cap, n, err, err_cap);
      },
      "SentencePiece could not decode ids: ");
}

std::string Tokenizer::piece(int32_t id) const {
  const auto& h = *handle_;
  if (h.sp == nullptr) {
    if (id < 0 || id >= vocab_size_) throw Error("no piece " + std::to_string(id) + " in a vocabulary of " + std::to_string(vocab_size_));
    static const char* const kSpecial[] = {"<pad>", "<unk>", "<s>", "</s>"};
    return id <= kEosId ? std::string(kSpecial[id]) : h.words[static_cast<size_t>(id)];
  }
  return call_growing(
      std::string(64, '\0'),
      [&](char* out, size_t cap, size_t* n, char* err, size_t err_cap) {
        return h.lib->id_to_piece(h.sp, id, out, cap, n, err, err_cap);
      },
      "");
}

}  // namespace tandem::vocab
