#include "tandem/data/parallel_corpus.h"

#include <sstream>

#include "tandem/io/line_reader.h"
#include "tandem/error.h"
#include "tandem/util/utf8.h"

namespace tandem::data {
namespace {

// Why a line is not usable text, or empty when it is.
std::string text_problem(const std::string& line) {
  if (const auto bad = util::find_invalid_utf8(line)) {
    return "invalid UTF-8 at byte " + std::to_string(*bad + 1);
  }
  if (const auto nul = line.find('\0'); nul != std::string::npos) {
    return "NUL byte at byte " + std::to_string(nul + 1);
  }
  return {};
}

}  // namespace

std::string CorpusReport::summary() const {
  std::ostringstream out;
  out << lines << " lines: " << kept << " pairs kept, "
      << (skipped_empty + skipped_too_long + skipped_invalid) << " skipped (" << skipped_empty
      << " empty, " << skipped_too_long << " too long, " << skipped_invalid
      << " invalid UTF-8); " << source_tokens << " source and " << target_tokens
      << " target pieces";
  return out.str();
}

ParallelCorpus ParallelCorpus::load(const CorpusOptions& options,
                                    const vocab::Tokenizer& source_tokenizer,
                                    const vocab::Tokenizer& target_tokenizer) {
  const bool monolingual = options.source_path.empty();
  auto source_lines = monolingual ? std::vector<std::string>() : io::read_text_lines(options.source_path);
  const auto target_lines = io::read_text_lines(options.target_path);
  if (monolingual) source_lines.resize(target_lines.size());
  if (source_lines.size() != target_lines.size()) {
    throw Error("the corpus files are not line-aligned: " + options.source_path + " has " +
                std::to_string(source_lines.size()) + " lines, " + options.target_path + " has " +
                std::to_string(target_lines.size()) +
                "; line i of one must translate line i of the other");
  }

  ParallelCorpus corpus;
  auto& report = corpus.report_;
  report.lines = static_cast<int64_t>(source_lines.size());
  corpus.pairs_.reserve(source_lines.size());
  for (size_t i = 0; i < source_lines.size(); ++i) {
    const int64_t line = static_cast<int64_t>(i) + 1;
    bool invalid = false;
    for (const auto* side : {&options.source_path, &options.target_path}) {
      if (monolingual && side == &options.source_path) continue;
      const auto& text = side == &options.source_path ? source_lines[i] : target_lines[i];
      const std::string problem = text_problem(text);
      if (problem.empty()) continue;
      if (!options.skip_invalid_utf8) {
        throw Error(*side + ":" + std::to_string(line) + ": " + problem +
                    "; fix the file (e.g. iconv -c) or pass --skip-invalid-utf8 to skip such pairs");
      }
      invalid = true;
    }
    if (invalid) {
      ++report.skipped_invalid;
      continue;
    }
    SentencePair pair;
    pair.line = line;
    if (!monolingual) pair.source = source_tokenizer.encode(source_lines[i]);
    pair.target = target_tokenizer.encode(target_lines[i]);
    if ((!monolingual && pair.source.empty()) || pair.target.empty()) {
      ++report.skipped_empty;
      continue;
    }
    if (options.max_length > 0 && (static_cast<int64_t>(pair.source.size()) > options.max_length ||
                                   static_cast<int64_t>(pair.target.size()) > options.max_length)) {
      ++report.skipped_too_long;
      continue;
    }
    report.source_tokens += static_cast<int64_t>(pair.source.size());
    report.target_tokens += static_cast<int64_t>(pair.target.size());
    corpus.pairs_.push_back(std::move(pair));
  }
  report.kept = static_cast<int64_t>(corpus.pairs_.size());
  return corpus;
}

}  // namespace tandem::data
