#include "tandem/io/json_log.h"

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "tandem/error.h"

namespace tandem::io {

JsonLog::JsonLog(const std::string& path) {
  // A run killed in the middle of a line left it unfinished: end it, so that
  // the next record starts on a line of its own.
  bool unfinished = false;
  {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (in && in.tellg() > 0) {
      in.seekg(-1, std::ios::end);
      unfinished = in.get() != '\n';
    }
  }
  out_.open(path, std::ios::app);
  if (!out_) throw Error(path + ": cannot open the training log for writing; check permissions");
  if (unfinished) out_ << "\n";
}

void JsonLog::write(const std::string& type, const std::vector<std::pair<std::string, double>>& fields) {
  nlohmann::ordered_json record = {{"type", type}};
  for (const auto& [key, value] : fields) {
    if (!std::isfinite(value)) {
      record[key] = nullptr;
    } else if (std::floor(value) == value && std::abs(value) < 1e15) {
      record[key] = static_cast<int64_t>(value);  // counts read as integers: "update": 4
    } else {
      record[key] = value;
    }
  }
  out_ << record.dump() << "\n";
  out_.flush();
}

}  // namespace tandem::io
