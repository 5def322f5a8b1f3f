#include "tandem/data/token_stream.h"

#include <torch/torch.h>

#include <algorithm>
#include <sstream>

#include "tandem/error.h"
#include "tandem/io/line_reader.h"
#include "tandem/util/utf8.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::data {
namespace {

// The first word of `line` that `tokenizer` does not hold (a words vocabulary's encode() is one id a word).
std::string unknown_word(const std::string& line, const std::vector<int32_t>& ids) {
  std::istringstream words(line);
  std::string word;
  for (const int32_t id : ids) {
    if (!(words >> word)) break;
    if (id == vocab::kUnkId) return word;
  }
  return "?";
}

}  // namespace

TokenStream read_token_stream(const std::string& path, const vocab::Tokenizer& tokenizer, bool count_characters) {
  TokenStream stream;
  stream.ids.push_back(vocab::kEosId);
  const bool refuse_unknown = tokenizer.is_word_level() && !tokenizer.maps_unknown_words();
  io::LineReader reader(path);
  std::string line;
  while (reader.next(line)) {
    ++stream.lines;
    io::clean_line(line, reader.line_number() == 1);
    const std::string where = path + ":" + std::to_string(reader.line_number());
    if (const auto bad = util::find_invalid_utf8(line)) {
      throw Error(where + ": invalid UTF-8 at byte " + std::to_string(*bad + 1) +
                  "; convert the file to UTF-8 (e.g. iconv) or remove the line");
    }
    const auto ids = tokenizer.encode(line);
    const auto unknown = std::count(ids.begin(), ids.end(), vocab::kUnkId);
    if (unknown > 0 && refuse_unknown) {
      throw Error(where + ": the word '" + unknown_word(line, ids) +
                  "' is not in the words vocabulary, which has no unknown token (<unk>); build the vocabulary "
                  "from a file that holds every word, or map rare words to <unk> in all files");
    }
    stream.unknown += unknown;
    stream.ids.insert(stream.ids.end(), ids.begin(), ids.end());
    stream.ids.push_back(vocab::kEosId);
    if (count_characters) {
      stream.characters += static_cast<int64_t>(util::decode_utf8(tokenizer.decode(ids)).size()) + 1;
    }
  }
  return stream;
}

StreamBatches::StreamBatches(const std::vector<int32_t>& ids, int64_t columns, int64_t bptt) : bptt_(bptt) {
  if (columns < 1) throw Error("a stream needs at least one column (--mini-batch)");
  if (bptt < 1) throw Error("--bptt must be at least 1");
  const int64_t rows = static_cast<int64_t>(ids.size()) / columns;
  if (rows < 2) {
    throw Error("the training stream has " + std::to_string(ids.size()) + " tokens: too few for " +
                std::to_string(columns) + " columns (--mini-batch) of at least two; use fewer columns or more text");
  }
  std::vector<int64_t> wide(ids.begin(), ids.begin() + columns * rows);
  columns_ = torch::tensor(wide, torch::kInt64).view({columns, rows});
  segments_ = (rows - 1 + bptt - 1) / bptt;
}

StreamSegment StreamBatches::next(torch::Device device) {
  if (position_.index >= segments_) position_ = {position_.epoch + 1, 0};
  const int64_t rows = columns_.size(1);
  const int64_t start = position_.index * bptt_;
  const int64_t n = std::min(bptt_, rows - 1 - start);
  StreamSegment segment;
  segment.input = columns_.narrow(1, start, n).to(device);
  segment.target = columns_.narrow(1, start + 1, n).to(device);
  segment.starts_epoch = position_.index == 0;
  if (++position_.index >= segments_) position_ = {position_.epoch + 1, 0};
  return segment;
}

void StreamBatches::seek(BatchPosition position) {
  if (position.epoch < 0 || position.index < 0 || position.index > segments_) {
    throw Error("invalid stream position (epoch " + std::to_string(position.epoch) + ", segment " +
                std::to_string(position.index) + " of " + std::to_string(segments_) + ")");
  }
  position_ = position;
}

double StreamBatches::epoch_share() const {
  return static_cast<double>(position_.index) / static_cast<double>(segments_);
}

}  // namespace tandem::data
