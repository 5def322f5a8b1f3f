// Helpers shared by the tests: temporary folders, files, a small trained
// SentencePiece model, and running the built programs.
#pragma once

#include <string>
#include <vector>

#include "tandem/vocab/tokenizer.h"

namespace tandem::test {

/// A fresh folder under $TMPDIR, removed at exit.
std::string temp_dir();

/// Writes `content` to `path` byte for byte.
void write_file(const std::string& path, const std::string& content);

/// Writes `content` gzip-compressed to `path`.
void write_gzip(const std::string& path, const std::string& content);

/// Reads a whole file.
std::string read_file(const std::string& path);

/// Multilingual training text: German, French, Czech, English, emoji and CJK.
const std::vector<std::string>& sample_sentences();

/// Path of a unigram model trained once on sample_sentences() (their text is at this path + ".txt").
const std::string& sample_model_path();

/// The tokenizer of sample_model_path().
const vocab::Tokenizer& sample_tokenizer();

struct ProgramResult {
  int exit_code = -1;
  std::string out;  ///< standard output
  std::string err;  ///< standard error
};

/// Runs a built program (bin/NAME) with a shell command line of arguments and
/// optional standard input.
ProgramResult run_program(const std::string& name, const std::string& args, const std::string& input = "");

/// Quotes a string for the shell.
std::string shell_quote(const std::string& s);

/// ../shared/peers next to the checkout, or empty when absent.
std::string peers_dir();

}  // namespace tandem::test
