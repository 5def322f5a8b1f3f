#include "tandem/data/batch.h"

#include <algorithm>

#include "tandem/error.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::data {

int64_t Batch::target_tokens() const { return target_output.ne(vocab::kPadId).sum().item<int64_t>(); }

Batch make_batch(const ParallelCorpus& corpus, const std::vector<int64_t>& indices,
                 torch::Device device) {
  if (indices.empty()) throw Error("make_batch: no sentence pairs given");
  size_t source_max = 0;
  size_t target_max = 0;
  for (const int64_t i : indices) {
    source_max = std::max(source_max, corpus.pair(i).source.size());
    target_max = std::max(target_max, corpus.pair(i).target.size());
  }
  const auto rows = static_cast<int64_t>(indices.size());
  const auto s_len = static_cast<int64_t>(source_max) + 1;
  const auto t_len = static_cast<int64_t>(target_max) + 1;
  auto source = torch::full({rows, s_len}, vocab::kPadId, torch::kInt64);      // [B, S]
  auto lengths = torch::empty({rows}, torch::kInt64);                          // [B]
  auto target_in = torch::full({rows, t_len}, vocab::kPadId, torch::kInt64);   // [B, T]
  auto target_out = torch::full({rows, t_len}, vocab::kPadId, torch::kInt64);  // [B, T]
  auto src = source.accessor<int64_t, 2>();
  auto len = lengths.accessor<int64_t, 1>();
  auto tin = target_in.accessor<int64_t, 2>();
  auto tout = target_out.accessor<int64_t, 2>();
  for (int64_t r = 0; r < rows; ++r) {
    const auto& pair = corpus.pair(indices[static_cast<size_t>(r)]);
    const auto m = static_cast<int64_t>(pair.source.size());
    const auto n = static_cast<int64_t>(pair.target.size());
    for (int64_t t = 0; t < m; ++t) src[r][t] = pair.source[static_cast<size_t>(t)];
    src[r][m] = vocab::kEosId;
    len[r] = m + 1;
    tin[r][0] = vocab::kBosId;
    for (int64_t t = 0; t < n; ++t) {
      tin[r][t + 1] = pair.target[static_cast<size_t>(t)];
      tout[r][t] = pair.target[static_cast<size_t>(t)];
    }
    tout[r][n] = vocab::kEosId;
  }
  Batch batch;
  batch.source = source.to(device);
  batch.source_lengths = lengths.to(device);
  batch.target_input = target_in.to(device);
  batch.target_output = target_out.to(device);
  batch.indices = indices;
  return batch;
}

}  // namespace tandem::data
