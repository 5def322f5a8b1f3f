// Tokenizer: SentencePiece encoding and decoding, safe to use next to LibTorch;
// or a words vocabulary (tandem-vocab --model-type words): the words of a text
// split at whitespace, exactly as written, as the word-level language-model
// benchmarks (Penn Treebank) define their vocabulary.
//
// Usage:
//   auto tok = tandem::vocab::Tokenizer::load("vocab.spm");
//   std::vector<int32_t> ids = tok.encode("Ein Hund läuft.");   // no bos/eos added
//   std::string text = tok.decode(ids);                          // "Ein Hund läuft."
//
// Contract:
// - decode(encode(x)) == x for text already in the model's normal form (by
//   default NFKC with runs of spaces collapsed and no leading/trailing space),
//   as long as every character was seen in training or the model was trained
//   with byte fallback.
// - The model must use the ids of special_ids.h (pad 0, unk 1, bos 2, eos 3);
//   load() says so naming the file when it does not.
// - SentencePiece itself lives in a small shim library loaded into its own link
//   namespace (dlmopen), see src/vocab/spm_shim/spm_shim.h. The shim is looked
//   for in $TANDEM_SPM_SHIM, next to the program, in ../lib next to the
//   program, and in the build tree.
// - A words vocabulary is a text file: the line "#tandem-words 1", then one word
//   a line, ids 4, 5, ... in that order (0-3 are the special ids). encode() splits
//   at spaces and tabs (no normalization) and gives kUnkId for a word it does not
//   hold, or the id of the word "<unk>" when the vocabulary has that word (the
//   benchmark's unknown token); decode() joins the words with one space.
// - Copies are cheap (shared handle); all methods are const and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::vocab {

class Tokenizer {
 public:
  /// Loads a SentencePiece model file (as written by tandem-vocab).
  static Tokenizer load(const std::string& path);

  /// Loads a model from its serialized bytes, e.g. out of a checkpoint;
  /// `origin` names where the bytes came from in error messages.
  static Tokenizer from_bytes(std::string bytes, const std::string& origin);

  /// Text to piece ids, without bos/eos.
  std::vector<int32_t> encode(std::string_view text) const;

  /// Piece ids to text; special ids (pad, bos, eos) decode to nothing.
  std::string decode(const std::vector<int32_t>& ids) const;

  /// The piece string of one id (e.g. "▁Hund").
  std::string piece(int32_t id) const;

  /// True when every piece is one character (a SentencePiece `char` model, or
  /// byte-fallback pieces): sentences are then several times longer in pieces.
  bool is_character_level() const;

  /// True for a words vocabulary (tandem-vocab --model-type words).
  bool is_word_level() const;

  /// True when encode() never gives kUnkId: a words vocabulary that holds the word "<unk>".
  bool maps_unknown_words() const;

  /// Number of pieces, special ones included.
  int32_t vocab_size() const { return vocab_size_; }

  /// The serialized model, for saving it inside a checkpoint.
  const std::string& model_bytes() const { return bytes_; }

  /// The loaded vocabulary, shared by copies (defined in tokenizer.cpp).
  struct Handle;

 private:
  Tokenizer(std::shared_ptr<const Handle> handle, std::string bytes, int32_t vocab_size);

  std::shared_ptr<const Handle> handle_;
  std::string bytes_;
  int32_t vocab_size_ = 0;
};

}  // namespace tandem::vocab
