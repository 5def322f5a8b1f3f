// LineReader: one line at a time from a text file, plain or gzip-compressed.
//
// Usage:
//   tandem::io::LineReader in("train.de.gz");   // or a plain file, or "-" for stdin
//   std::string line;
//   while (in.next(line)) use(line, in.line_number());
//
// Contract: lines are split on '\n' only, and the '\n' is removed; a last line
// without '\n' is still a line, and a file ending in '\n' has no extra empty
// line. Nothing else is changed (a '\r' stays): callers decide what is text.
// Compression is detected from the content, not the name.
//
// Text cleaning: every program that reads text (training, vocabulary, validation,
// translation, scoring) cleans each line with clean_line(), so a CRLF file or one
// that starts with a byte order mark reads the same as a plain LF file.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace tandem::io {

class LineReader {
 public:
  /// Opens `path` ("-" is standard input); throws tandem::Error naming it.
  explicit LineReader(const std::string& path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  /// Reads the next line into `line`; false at the end of the file.
  bool next(std::string& line);

  /// 1-based number of the line last returned by next().
  size_t line_number() const { return line_number_; }

  /// The path as given ("-" for standard input).
  const std::string& path() const { return path_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
  size_t line_number_ = 0;
};

/// Cleans one line as Tandem reads text: drops a trailing '\r' (CRLF files) and,
/// when `first_line`, a leading UTF-8 byte order mark.
void clean_line(std::string& line, bool first_line);

/// All lines of a text file (plain or .gz), each cleaned by clean_line(); no
/// UTF-8 checks. Throws tandem::Error when the file cannot be read.
std::vector<std::string> read_text_lines(const std::string& path);

}  // namespace tandem::io
