#include "tandem/io/line_reader.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "tandem/error.h"

namespace tandem::io {

struct LineReader::Impl {
  gzFile file = nullptr;
  std::string buffer;
  size_t pos = 0;
  bool eof = false;
};

LineReader::LineReader(const std::string& path) : impl_(std::make_unique<Impl>()), path_(path) {
  if (path == "-") {
    const int fd = dup(STDIN_FILENO);
    impl_->file = fd >= 0 ? gzdopen(fd, "rb") : nullptr;
  } else {
    impl_->file = gzopen(path.c_str(), "rb");
  }
  if (impl_->file == nullptr) {
    throw Error(path + ": cannot open (" + std::strerror(errno) + "); check the path");
  }
  gzbuffer(impl_->file, 1 << 17);
}

LineReader::~LineReader() {
  if (impl_ && impl_->file != nullptr) gzclose(impl_->file);
}

bool LineReader::next(std::string& line) {
  line.clear();
  auto& s = *impl_;
  bool got_any = false;
  while (true) {
    if (s.pos < s.buffer.size()) {
      const size_t newline = s.buffer.find('\n', s.pos);
      if (newline != std::string::npos) {
        line.append(s.buffer, s.pos, newline - s.pos);
        s.pos = newline + 1;
        ++line_number_;
        return true;
      }
      line.append(s.buffer, s.pos, std::string::npos);
      got_any = true;
      s.pos = s.buffer.size();
    }
    if (s.eof) break;
    s.buffer.resize(1 << 16);
    const int n = gzread(s.file, s.buffer.data(), static_cast<unsigned>(s.buffer.size()));
    if (n < 0) {
      int code = 0;
      const char* why = gzerror(s.file, &code);
      throw Error(path_ + ": read error after line " + std::to_string(line_number_) + " (" +
                  (why != nullptr ? why : "unknown") + "); the file may be truncated or corrupt");
    }
    s.buffer.resize(static_cast<size_t>(n));
    s.pos = 0;
    if (n == 0) {
      int code = Z_OK;
      gzerror(s.file, &code);
      if (code != Z_OK && code != Z_STREAM_END) {
        throw Error(path_ + ": the compressed data ends early after line " +
                    std::to_string(line_number_) + "; the file is truncated or corrupt");
      }
      s.eof = true;
    }
  }
  if (got_any) {
    ++line_number_;
    return true;
  }
  return false;
}

void clean_line(std::string& line, bool first_line) {
  if (first_line && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
  if (!line.empty() && line.back() == '\r') line.pop_back();
}

std::vector<std::string> read_text_lines(const std::string& path) {
  LineReader reader(path);
  std::vector<std::string> lines;
  std::string line;
  while (reader.next(line)) {
    clean_line(line, reader.line_number() == 1);
    lines.push_back(line);
  }
  return lines;
}

}  // namespace tandem::io
