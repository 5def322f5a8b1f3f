#include "tandem/vocab/vocab_trainer.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <algorithm>
#include <utility>
#include <vector>

#include "spm_library.h"
#include "tandem/io/line_reader.h"
#include "tandem/error.h"
#include "tandem/util/utf8.h"
#include "tandem/vocab/special_ids.h"
#include "tandem/vocab/tokenizer.h"

namespace tandem::vocab {
namespace {

namespace fs = std::filesystem;

const char* model_type_name(ModelType type) {
  switch (type) {
    case ModelType::kUnigram: return "unigram";
    case ModelType::kBpe: return "bpe";
    case ModelType::kChar: return "char";
    case ModelType::kWord: return "word";
    case ModelType::kWords: return "words";
  }
  return "unigram";
}

// A private folder under $TMPDIR, removed when it goes out of scope.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tandem-vocab-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw Error("cannot create a temporary folder under " + fs::temp_directory_path().string() +
                  "; set TMPDIR to a writable folder");
    }
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// Calls `use` with every line of the inputs, cleaned (io::clean_line) and
// checked for UTF-8 (an error names file and line), counting them in `report`.
template <typename Use>
void for_each_input_line(const VocabOptions& options, VocabReport& report, Use&& use) {
  std::string line;
  for (const auto& input : options.inputs) {
    io::LineReader reader(input);
    while (reader.next(line)) {
      ++report.lines_read;
      io::clean_line(line, reader.line_number() == 1);
      if (const auto bad = util::find_invalid_utf8(line)) {
        throw Error(input + ":" + std::to_string(reader.line_number()) +
                    ": invalid UTF-8 at byte " + std::to_string(*bad + 1) +
                    "; convert the file to UTF-8 (e.g. iconv) or remove the line");
      }
      use(line);
    }
  }
}

// Copies every non-empty line of the inputs into one plain file, checking UTF-8.
void gather_text(const VocabOptions& options, const fs::path& out_path, VocabReport& report) {
  std::ofstream out(out_path, std::ios::binary);
  if (!out) throw Error(out_path.string() + ": cannot write the training text");
  for_each_input_line(options, report, [&](const std::string& line) {
    if (line.find_first_not_of(" \t") == std::string::npos) {
      ++report.empty_lines;
      return;
    }
    out << line << '\n';
  });
  if (report.lines_read == report.empty_lines) {
    throw Error("the vocabulary inputs hold no text (" + std::to_string(report.lines_read) +
                " lines, all empty)");
  }
}

// Writes `bytes` to `model_path` atomically: a temporary file beside it, then a rename.
void write_atomically(const std::string& model_path, const std::string& bytes) {
  const fs::path target(model_path);
  const fs::path staging = target.string() + ".tmp";
  std::error_code ec;
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  {
    std::ofstream out(staging, std::ios::binary | std::ios::trunc);
    if (!(out << bytes << std::flush)) throw Error(model_path + ": cannot write the vocabulary (" + staging.string() + ")");
  }
  fs::rename(staging, target, ec);
  if (ec) throw Error(model_path + ": cannot write the vocabulary (" + ec.message() + ")");
}

// The words vocabulary: every whitespace-separated word of the inputs, most
// frequent first, ties in order of first appearance.
VocabReport train_words(const VocabOptions& options, const std::string& model_path) {
  VocabReport report;
  std::unordered_map<std::string, int64_t> index;  // word -> its place in `counts`
  std::vector<std::pair<std::string, int64_t>> counts;
  for_each_input_line(options, report, [&](const std::string& line) {
    std::istringstream words(line);
    std::string word;
    bool any = false;
    while (words >> word) {
      any = true;
      const auto [it, added] = index.emplace(word, static_cast<int64_t>(counts.size()));
      if (added) counts.emplace_back(word, 0);
      ++counts[static_cast<size_t>(it->second)].second;
    }
    if (!any) ++report.empty_lines;
  });
  if (counts.empty()) throw Error("the vocabulary inputs hold no word (" + std::to_string(report.lines_read) + " lines)");
  std::stable_sort(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string bytes = "#tandem-words 1\n";
  for (const auto& [word, count] : counts) bytes += word + "\n";
  report.vocab_size = Tokenizer::from_bytes(bytes, model_path).vocab_size();
  write_atomically(model_path, bytes);
  return report;
}

}  // namespace

ModelType parse_model_type(const std::string& name) {
  for (const auto type : {ModelType::kUnigram, ModelType::kBpe, ModelType::kChar, ModelType::kWord, ModelType::kWords}) {
    if (name == model_type_name(type)) return type;
  }
  throw Error("unknown model type '" + name + "'; use unigram, bpe, char, word or words");
}

VocabReport train_vocab(const VocabOptions& options, const std::string& model_path) {
  if (options.inputs.empty()) throw Error("no input files for the vocabulary; pass --input FILE...");
  if (options.vocab_size <= 4) {
    throw Error("--vocab-size must be above 4 (the four special ids), got " +
                std::to_string(options.vocab_size));
  }
  if (options.character_coverage <= 0.0 || options.character_coverage > 1.0) {
    throw Error("--character-coverage must be in (0, 1], got " +
                std::to_string(options.character_coverage));
  }
  if (options.model_type == ModelType::kWords) return train_words(options, model_path);
  const auto& lib = detail::SpmLibrary::get();
  VocabReport report;
  TempDir temp;
  const fs::path text = temp.path / "text.txt";
  gather_text(options, text, report);

  const fs::path prefix = temp.path / "model";
  const auto exact_text = [](double value) {
    std::ostringstream out;
    out.precision(17);
    out << value;
    return out.str();
  };
  // Options as name/value pairs: a path with spaces stays one value.
  std::vector<std::pair<std::string, std::string>> args = {
      {"input", text.string()},
      {"model_prefix", prefix.string()},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"model_type", model_type_name(options.model_type)},
      {"character_coverage", exact_text(options.character_coverage)},
      {"byte_fallback", options.byte_fallback ? "true" : "false"},
      {"normalization_rule_name", options.normalization},
      {"pad_id", std::to_string(kPadId)},
      {"unk_id", std::to_string(kUnkId)},
      {"bos_id", std::to_string(kBosId)},
      {"eos_id", std::to_string(kEosId)},
      {"num_threads", std::to_string(std::max(1, options.threads))},
      {"input_sentence_size", std::to_string(options.max_sentences)},
      {"shuffle_input_sentence", "true"},
      {"max_sentence_length", "65536"},
      {"minloglevel", "1"}};
  // A character model has as many pieces as the text has characters: the size is
  // then an upper bound, not a count SentencePiece must reach.
  if (options.model_type == ModelType::kChar) args.push_back({"hard_vocab_limit", "false"});
  std::vector<const char*> names;
  std::vector<const char*> values;
  for (const auto& [name, value] : args) {
    names.push_back(name.c_str());
    values.push_back(value.c_str());
  }
  char err[detail::kErrorCapacity] = {0};
  if (lib.train(names.data(), values.data(), names.size(), err, sizeof(err)) != 0) {
    throw Error(std::string("SentencePiece training failed: ") + err +
                "; with too little text for the vocabulary size, choose a smaller size");
  }

  // Check the result loads, then move it into place atomically.
  const fs::path trained = prefix.string() + ".model";
  report.vocab_size = Tokenizer::load(trained.string()).vocab_size();
  std::ifstream in(trained, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  write_atomically(model_path, bytes.str());
  return report;
}

}  // namespace tandem::vocab
