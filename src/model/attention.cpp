#include "tandem/model/attention.h"

#include <torch/torch.h>

#include <algorithm>
#include <vector>

#include "tandem/error.h"
#include "model/fused_cells.h"
#include "tandem/model/int8.h"

namespace tandem::model {
namespace {

// Elements of the Bahdanau hidden tensor taken at once (1 MiB of floats).
constexpr int64_t kAttentionChunkElements = int64_t{1} << 18;

// The context, weights [B, G, S] times the values [B, S, M]: -> [B, G, M].
torch::Tensor context_of(const torch::Tensor& weights, const AttentionMemory& memory, int64_t step) {
  return step >= 0 ? memory.step_values->times(weights, step) : torch::bmm(weights, memory.values);
}

}  // namespace

AttentionImpl::AttentionImpl(AttentionType type, int64_t memory_size, int64_t query_size) : type_(type) {
  switch (type) {
    case AttentionType::kBahdanau:
      key_ = register_module("key", torch::nn::Linear(torch::nn::LinearOptions(memory_size, query_size).bias(false)));
      query_ = register_module("query", torch::nn::Linear(torch::nn::LinearOptions(query_size, query_size).bias(false)));
      score_ = register_module("score", torch::nn::Linear(torch::nn::LinearOptions(query_size, 1).bias(false)));
      break;
    case AttentionType::kLuongGeneral:
      key_ = register_module("key", torch::nn::Linear(torch::nn::LinearOptions(memory_size, query_size).bias(false)));
      break;
    case AttentionType::kLuongDot:
      if (memory_size != query_size) throw Error("luong-dot attention needs equal encoder and decoder widths");
      break;
    case AttentionType::kNone:
      throw Error("an Attention module was built for --attention none");
  }
}

AttentionMemory AttentionImpl::prepare(const torch::Tensor& values, const torch::Tensor& mask) {
  auto keys = key_ ? model::linear(values, key_) : values;  // [B, S, K]
  // The fused Bahdanau scores read float32 keys: widened once here, not every step
  // (and the steps' gradients summed in float32, then narrowed once).
  if (type_ == AttentionType::kBahdanau && fused::attention_applies(keys)) keys = keys.to(torch::kFloat32).contiguous();
  return {values, keys, mask, {}, {}, {}};
}

void AttentionImpl::prepare_steps(AttentionMemory& memory, int64_t steps) const {
  memory.step_values = std::make_shared<const StepMemory>(memory.values, steps, 1);
  if (type_ == AttentionType::kBahdanau) {
    memory.step_query = std::make_shared<const StepWeight>(query_->weight, steps, memory.values.size(0));
  } else {
    memory.step_keys = std::make_shared<const StepMemory>(memory.keys.transpose(1, 2), steps, 1);  // [B, K, S]
  }
}

std::pair<torch::Tensor, torch::Tensor> AttentionImpl::forward(const torch::Tensor& query,
                                                               const AttentionMemory& memory, int64_t step) {
  const bool stepped = step >= 0 && memory.step_values;
  const int64_t B = memory.keys.size(0);
  const int64_t N = query.size(0);
  if (N % B != 0) {
    throw Error("attention got " + std::to_string(N) + " query rows for " + std::to_string(B) + " sentences");
  }
  const int64_t G = N / B;
  torch::Tensor scores;  // [B, G, S]
  if (type_ == AttentionType::kBahdanau) {
    const auto projected = stepped ? memory.step_query->linear(query, step) : model::linear(query, query_);  // [N, Q]
    if (fused::attention_applies(memory.keys) && fused::attention_applies(projected)) {
      // scores and softmax in one pass over the keys, tanh(keys + q) never written
      const auto weights = fused::additive_attention(memory.keys, projected.view({B, G, -1}), score_->weight,
                                                     memory.mask);  // [B, G, S]
      return {context_of(weights, memory, stepped ? step : -1).view({N, -1}), weights.view({N, -1})};
    }
    const auto q = projected.view({B, G, 1, -1});                                                       // [B, G, 1, Q]
    // tanh(keys + q) is [B, G, S, Q]: in search, taken whole it outgrows the
    // caches (65 MB at 200 source pieces, beam 5, 32 sentences), so it is taken
    // a few sentences at a time. Each sentence's scores are the same either way.
    const int64_t per_sentence = G * memory.keys.size(1) * memory.keys.size(2);
    const int64_t chunk = torch::GradMode::is_enabled()
                              ? B
                              : std::max<int64_t>(1, kAttentionChunkElements / std::max<int64_t>(1, per_sentence));
    std::vector<torch::Tensor> parts;
    for (int64_t b = 0; b < B; b += chunk) {
      const int64_t n = std::min(chunk, B - b);
      const auto hidden = torch::tanh(memory.keys.narrow(0, b, n).unsqueeze(1) + q.narrow(0, b, n));  // [n, G, S, Q]
      parts.push_back(score_->forward(hidden).squeeze(-1));                                        // [n, G, S]
    }
    scores = parts.size() == 1 ? parts.front() : torch::cat(parts, /*dim=*/0);  // [B, G, S]
  } else {
    const auto q = query.view({B, G, -1});                                                 // [B, G, K]
    scores = stepped ? memory.step_keys->times(q, step) : torch::bmm(q, memory.keys.transpose(1, 2));  // [B, G, S]
  }
  torch::Tensor weights;  // [B, G, S]
  if (fused::attention_applies(scores)) {
    weights = fused::masked_softmax(scores, memory.mask);
  } else {
    scores = scores.masked_fill(memory.mask.logical_not().unsqueeze(1), -std::numeric_limits<float>::infinity());
    weights = torch::softmax(scores, /*dim=*/-1);
  }
  return {context_of(weights, memory, stepped ? step : -1).view({N, -1}), weights.view({N, -1})};
}

}  // namespace tandem::model
