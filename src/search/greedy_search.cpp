#include "tandem/search/greedy_search.h"

#include <torch/torch.h>

#include "tandem/vocab/special_ids.h"

namespace tandem::search {

std::vector<std::vector<int32_t>> greedy_search(model::Seq2Seq& model, const torch::Tensor& source,
                                                const torch::Tensor& lengths, const GreedyOptions& options) {
  torch::NoGradGuard no_grad;
  const int64_t rows = source.size(0);
  const auto limits = (lengths.to(torch::kCPU).to(torch::kFloat64) * options.max_length_factor).floor()
                          .to(torch::kInt64) + options.max_length_extra;  // [B]
  const int64_t max_steps = limits.max().item<int64_t>();
  auto state = model->start(model->encode(source, lengths));
  auto previous = torch::full({rows}, vocab::kBosId, source.options());  // [B]
  std::vector<std::vector<int32_t>> outputs(static_cast<size_t>(rows));
  std::vector<bool> done(static_cast<size_t>(rows), false);
  int64_t remaining = rows;
  const auto limit = limits.accessor<int64_t, 1>();
  for (int64_t t = 0; t < max_steps && remaining > 0; ++t) {
    const auto out = model->step(previous, state);
    previous = model->logits(out.features).argmax(/*dim=*/-1);  // [B]
    const auto chosen = previous.to(torch::kCPU);
    const auto* tokens = chosen.data_ptr<int64_t>();
    for (int64_t r = 0; r < rows; ++r) {
      auto& output = outputs[static_cast<size_t>(r)];
      if (done[static_cast<size_t>(r)]) continue;
      if (tokens[r] != vocab::kEosId) output.push_back(static_cast<int32_t>(tokens[r]));
      if (tokens[r] == vocab::kEosId || static_cast<int64_t>(output.size()) >= limit[r]) {
        done[static_cast<size_t>(r)] = true;
        --remaining;
      }
    }
  }
  return outputs;
}

}  // namespace tandem::search
