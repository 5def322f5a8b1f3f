// libFuzzer target: the training corpus reader (LineReader + ParallelCorpus).
// Input: one flag byte (bit 0: skip invalid UTF-8, bit 1: gzip the files,
// bit 2: one extra target line), then the text of both sides.
// Properties: no crash; a failure is a tandem::Error naming a file; otherwise
// every line is kept or counted as skipped, and kept pairs are in range.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_support.h"
#include "tandem/data/parallel_corpus.h"
#include "tandem/error.h"

namespace {

void write_maybe_gzip(const std::string& path, const std::string& text, bool compress) {
  if (!compress) {
    tandem::fuzz::write_bytes(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
    return;
  }
  gzFile file = gzopen(path.c_str(), "wb");
  if (!text.empty()) gzwrite(file, text.data(), static_cast<unsigned>(text.size()));
  gzclose(file);
}

int64_t count_lines(const std::string& text) {
  int64_t lines = 0;
  for (const char c : text) lines += c == '\n' ? 1 : 0;
  if (!text.empty() && text.back() != '\n') ++lines;
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const bool compress = (flags & 2) != 0;
  const bool extra_line = (flags & 4) != 0;
  const auto& dir = tandem::fuzz::scratch_dir();
  tandem::data::CorpusOptions options;
  options.source_path = dir + "/corpus.src";
  options.target_path = dir + "/corpus.tgt";
  options.skip_invalid_utf8 = (flags & 1) != 0;
  options.max_length = 50;
  write_maybe_gzip(options.source_path, text, compress);
  write_maybe_gzip(options.target_path, text + (extra_line ? (text.empty() || text.back() == '\n' ? "x\n" : "\nx\n") : ""),
                   compress);
  const auto& tokenizer = tandem::fuzz::small_tokenizer();
  try {
    const auto corpus = tandem::data::ParallelCorpus::load(options, tokenizer, tokenizer);
    const auto& report = corpus.report();
    // Text that itself starts with the gzip magic is read as gzip, and zlib
    // ignores bytes after the end of a gzip member (as gzip -d does, with a
    // warning), so the extra line may vanish there; everywhere else it must not.
    const bool looks_compressed = text.size() >= 2 && static_cast<uint8_t>(text[0]) == 0x1f &&
                                  static_cast<uint8_t>(text[1]) == 0x8b;
    if (extra_line && !looks_compressed) std::abort();  // line counts differ: must have been an error
    if (report.kept != corpus.size()) std::abort();
    if (report.kept + report.skipped_empty + report.skipped_too_long + report.skipped_invalid != report.lines) {
      std::abort();
    }
    if (!looks_compressed && report.lines != count_lines(text)) std::abort();
    for (int64_t i = 0; i < corpus.size(); ++i) {
      const auto pair = corpus.pair(i);
      if (pair.source.empty() || pair.target.empty()) std::abort();
      if (static_cast<int64_t>(pair.source.size()) > options.max_length) std::abort();
      for (const auto id : pair.source) {
        if (id < 0 || id >= tokenizer.vocab_size()) std::abort();
      }
    }
  } catch (const tandem::Error& e) {
    const std::string message = e.what();
    if (message.find("corpus.src") == std::string::npos && message.find("corpus.tgt") == std::string::npos) {
      std::abort();  // every error names the file
    }
  }
  return 0;
}
