#include "tandem/data/batch.h"

#include <algorithm>
#include <tuple>

#include "tandem/error.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::data {

int64_t Batch::target_tokens() const { return target_output.ne(vocab::kPadId).sum().item<int64_t>(); }

std::pair<torch::Tensor, torch::Tensor> make_source_batch(const std::vector<std::vector<int32_t>>& sources,
                                                          torch::Device device) {
  if (sources.empty()) throw Error("make_source_batch: no sentence given");
  size_t longest = 0;
  for (const auto& s : sources) longest = std::max(longest, s.size());
  const auto rows = static_cast<int64_t>(sources.size());
  auto source = torch::full({rows, static_cast<int64_t>(longest) + 1}, vocab::kPadId, torch::kInt64);  // [B, S]
  auto lengths = torch::empty({rows}, torch::kInt64);                                                 // [B]
  auto src = source.accessor<int64_t, 2>();
  auto len = lengths.accessor<int64_t, 1>();
  for (int64_t r = 0; r < rows; ++r) {
    const auto& ids = sources[static_cast<size_t>(r)];
    const auto m = static_cast<int64_t>(ids.size());
    for (int64_t t = 0; t < m; ++t) src[r][t] = ids[static_cast<size_t>(t)];
    src[r][m] = vocab::kEosId;
    len[r] = m + 1;
  }
  return {source.to(device), lengths.to(device)};
}

Batch make_batch(const std::vector<std::vector<int32_t>>& sources, const std::vector<std::vector<int32_t>>& targets,
                 torch::Device device) {
  if (sources.size() != targets.size()) throw Error("make_batch: as many targets as sources are needed");
  Batch batch;
  std::tie(batch.source, batch.source_lengths) = make_source_batch(sources, device);
  size_t longest = 0;
  for (const auto& t : targets) longest = std::max(longest, t.size());
  const auto rows = static_cast<int64_t>(targets.size());
  const auto t_len = static_cast<int64_t>(longest) + 1;
  auto target_in = torch::full({rows, t_len}, vocab::kPadId, torch::kInt64);   // [B, T]
  auto target_out = torch::full({rows, t_len}, vocab::kPadId, torch::kInt64);  // [B, T]
  auto tin = target_in.accessor<int64_t, 2>();
  auto tout = target_out.accessor<int64_t, 2>();
  for (int64_t r = 0; r < rows; ++r) {
    const auto& ids = targets[static_cast<size_t>(r)];
    const auto n = static_cast<int64_t>(ids.size());
    tin[r][0] = vocab::kBosId;
    for (int64_t t = 0; t < n; ++t) {
      tin[r][t + 1] = ids[static_cast<size_t>(t)];
      tout[r][t] = ids[static_cast<size_t>(t)];
    }
    tout[r][n] = vocab::kEosId;
  }
  batch.target_input = target_in.to(device);
  batch.target_output = target_out.to(device);
  return batch;
}

Batch make_batch(const ParallelCorpus& corpus, const std::vector<int64_t>& indices, torch::Device device) {
  if (indices.empty()) throw Error("make_batch: no sentence pairs given");
  std::vector<std::vector<int32_t>> sources;
  std::vector<std::vector<int32_t>> targets;
  sources.reserve(indices.size());
  targets.reserve(indices.size());
  for (const int64_t i : indices) {
    auto pair = corpus.pair(i);
    sources.push_back(std::move(pair.source));
    targets.push_back(std::move(pair.target));
  }
  Batch batch = make_batch(sources, targets, device);
  batch.indices = indices;
  return batch;
}

}  // namespace tandem::data
