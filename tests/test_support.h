// Helpers shared by the tests: temporary folders, files, a small trained
// SentencePiece model, and running the built programs.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "tandem/model/model_options.h"
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

/// Runs recipes/RECIPE/run.sh --skip-setup --work WORK ARGS; `out` holds its
/// standard output and error together (also kept in WORK/out.txt).
ProgramResult run_recipe(const std::string& recipe, const std::string& work, const std::string& args);

/// The main job's model: recipes/dates/run.sh with its defaults (and PRECISION),
/// run once per build of tandem-train into BUILD/test-cache/dates[-bfloat16]
/// (test processes share it under a lock; a rebuilt tandem-train trains it
/// again). Returns that work folder: model/ holds the model, run.log the
/// recipe's output. Throws (failing the calling test) when the recipe fails.
/// Its 3000 updates take minutes: the slow tier's tests use it.
std::string dates_work_dir(const std::string& precision = "float32");

/// The dates recipe at a small size (kSmallDatesPairs pairs, kSmallDatesUpdates
/// updates: seconds), cached like dates_work_dir into BUILD/test-cache/dates-small[-PRECISION]:
/// a model that translates most dates right, for the quick tier's tests that
/// need a trained translation model.
std::string small_dates_work_dir(const std::string& precision = "float32");
inline constexpr int kSmallDatesPairs = 8000;
inline constexpr int kSmallDatesUpdates = 500;

/// Quotes a string for the shell.
std::string shell_quote(const std::string& s);

/// ../shared/peers next to the checkout, or empty when absent.
std::string peers_dir();

/// True when TANDEM_ALLOW_MISSING_SHARED=1: tests that need ../shared skip
/// without it instead of failing (for a checkout used apart from the project).
bool missing_shared_allowed();

/// Ends the current test when `missing` (a file or folder of ../shared is absent):
/// a failure naming `what`, or a skip when missing_shared_allowed().
#define TANDEM_REQUIRE_SHARED(missing, what)                                                            \
  do {                                                                                                  \
    if (missing) {                                                                                      \
      if (::tandem::test::missing_shared_allowed()) GTEST_SKIP() << (what) << " is absent";             \
      FAIL() << (what) << " is absent; this test needs ../shared beside the checkout "                  \
             << "(set TANDEM_ALLOW_MISSING_SHARED=1 to skip it instead)";                               \
    }                                                                                                   \
  } while (false)

}  // namespace tandem::test

namespace tandem::model {

// GoogleTest (and so CTest's test list) prints parameters with these: "gru",
// not "4-byte object <01-00 00-00>".
inline void PrintTo(CellType cell, std::ostream* out) { *out << cell_type_name(cell); }
inline void PrintTo(AttentionType attention, std::ostream* out) { *out << attention_type_name(attention); }

}  // namespace tandem::model
