// TokenStream and StreamBatches: text read as one continuous stream of token
// ids, the way the language-model benchmarks read it (Penn Treebank, char-rnn),
// and cut into parallel columns for truncated backpropagation through time.
//
// Usage:
//   TokenStream text = read_token_stream("ptb.train.txt", tokenizer);
//   // text.ids = eos, line 1's ids, eos, line 2's ids, eos, ...
//   StreamBatches batches(text.ids, /*columns=*/20, /*bptt=*/35);
//   StreamSegment s = batches.next(device);  // s.input [20, <=35], s.target the ids one step later
//
// The stream starts with an eos that is read, never predicted: every token of
// the file, each line's end included, is predicted once (PTB's test file: 82,430
// tokens). A words vocabulary (tokenizer.h) without an unknown token refuses a
// word it does not hold, naming file and line; other vocabularies count their
// unknown pieces.
//
// Columns as the benchmark's programs cut them: the stream's first C x R ids
// (R = floor(size / C)) make C columns of R consecutive ids, column c holding
// ids c x R .. c x R + R - 1; an epoch is the segments of `bptt` steps down the
// columns (the last one shorter), each input row predicting the next.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tandem/data/batcher.h"
#include "tandem/vocab/tokenizer.h"

namespace tandem::data {

struct TokenStream {
  std::vector<int32_t> ids;  ///< eos, line 1's ids, eos, line 2's ids, eos, ...
  int64_t lines = 0;         ///< lines read
  int64_t unknown = 0;       ///< ids that are the unknown piece (kUnkId)
  /// Characters of the text as the vocabulary normalizes it (what decoding the
  /// ids gives), one more for each line end; counted only when asked.
  int64_t characters = 0;

  /// Tokens predicted when the whole stream is scored: all but the first eos.
  int64_t predicted() const { return ids.empty() ? 0 : static_cast<int64_t>(ids.size()) - 1; }
};

/// Reads `path` (plain or .gz; "-" for standard input) as one stream; counts
/// characters when `count_characters`. Throws tandem::Error naming file and line
/// for invalid UTF-8 or (words vocabulary without "<unk>") an unknown word.
TokenStream read_token_stream(const std::string& path, const vocab::Tokenizer& tokenizer,
                              bool count_characters = false);

/// One update's share of a stream: `input` [C, n] int64 and `target` [C, n], the ids one step later.
struct StreamSegment {
  torch::Tensor input;
  torch::Tensor target;
  bool starts_epoch = false;  ///< the first segment of an epoch (the carried state starts from zeros)
};

class StreamBatches {
 public:
  /// Throws tandem::Error when the stream cannot give every column two ids.
  StreamBatches(const std::vector<int32_t>& ids, int64_t columns, int64_t bptt);

  /// The next segment; moves on to the next epoch after the last one of an epoch.
  StreamSegment next(torch::Device device = torch::kCPU);

  /// The segment next() returns next: `index` of epoch `epoch`.
  BatchPosition position() const { return position_; }
  void seek(BatchPosition position);

  /// Epochs whose every segment next() has returned.
  int64_t completed_epochs() const { return position_.epoch; }
  /// How far into its epoch the stream stands, in [0, 1].
  double epoch_share() const;
  int64_t segments_per_epoch() const { return segments_; }
  /// Ids in the columns (what an epoch reads).
  int64_t size() const { return columns_.numel(); }

 private:
  torch::Tensor columns_;  // [C, R] int64
  int64_t bptt_;
  int64_t segments_;
  BatchPosition position_;
};

}  // namespace tandem::data
