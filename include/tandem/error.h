// The one exception type Tandem throws for problems a user can act on.
//
// Messages name the file, the line where there is one, what is wrong and what
// to do, e.g. "train.de:17: invalid UTF-8 at byte 4; fix the file or pass
// --skip-invalid-utf8". Programs print what() after "error: " and exit 1.
#pragma once

#include <stdexcept>
#include <string>

namespace tandem {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace tandem
