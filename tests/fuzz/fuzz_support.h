// Shared by the libFuzzer targets: a scratch folder and a small SentencePiece model.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tandem/vocab/tokenizer.h"
#include "tandem/vocab/vocab_trainer.h"

namespace tandem::fuzz {

inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string pattern = "/tmp/tandem-fuzz-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    return pattern;
  }();
  return dir;
}

inline void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

// A 340-piece unigram model (byte fallback) trained once on a few sentences in several scripts.
inline const vocab::Tokenizer& small_tokenizer() {
  static const vocab::Tokenizer tokenizer = [] {
    const std::string text = scratch_dir() + "/vocab.txt";
    std::ofstream out(text);
    for (int i = 0; i < 20; ++i) {
      out << "Ein Mann fährt mit dem Fahrrad durch die Stadt " << i << ".\n"
          << "Un chien court dans le parc, près de l'école.\n"
          << "Dva psi si hrají na zahradě.\n"
          << "Two young children are playing football on the grass.\n"
          << "東京の夜景はとても美しい。 😀\n";
    }
    out.close();
    vocab::VocabOptions options;
    options.inputs = {text};
    options.vocab_size = 340;
    options.byte_fallback = true;
    vocab::train_vocab(options, scratch_dir() + "/vocab.spm");
    return vocab::Tokenizer::load(scratch_dir() + "/vocab.spm");
  }();
  return tokenizer;
}

}  // namespace tandem::fuzz
