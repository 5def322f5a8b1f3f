// A whole file's bytes.
//
// Usage:
//   const std::string bytes = tandem::io::read_file("vocab.spm");   // tandem::Error naming the path if unreadable
#pragma once

#include <fstream>
#include <iterator>
#include <string>

#include "tandem/error.h"

namespace tandem::io {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.bad()) return bytes;
  }
  throw Error(path + ": cannot read it (check that it exists and is readable)");
}

}  // namespace tandem::io
