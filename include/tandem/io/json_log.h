// JsonLog: a log of one JSON object per line (train.log.jsonl).
//
// Usage:
//   tandem::io::JsonLog log("model/train.log.jsonl");     // appends; throws tandem::Error naming the file
//   log.write("train", {{"update", 100}, {"loss", 3.25}});  // {"type":"train","update":100,"loss":3.25}
//
// A file whose last line was cut off (a killed run) gets that line ended first,
// so every record starts on a line of its own. Each record is flushed.
#pragma once

#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace tandem::io {

class JsonLog {
 public:
  explicit JsonLog(const std::string& path);

  /// One record: {"type": TYPE, FIELD: VALUE, ...}; whole numbers are written as
  /// integers, values that are not finite as null.
  void write(const std::string& type, const std::vector<std::pair<std::string, double>>& fields);

 private:
  std::ofstream out_;
};

}  // namespace tandem::io
