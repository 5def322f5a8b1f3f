#include "tandem/model/stream_lm.h"

#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <limits>

#include "tandem/error.h"
#include "tandem/model/recurrent_state.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::model {

StreamScore score_stream(Seq2Seq& model, const std::vector<int32_t>& ids, torch::Device device, Precision precision,
                         int64_t chunk) {
  torch::NoGradGuard no_grad;
  StreamScore score;
  if (ids.size() < 2) return score;
  const std::vector<int64_t> wide(ids.begin(), ids.end());
  const auto all = torch::tensor(wide, torch::kInt64).to(device);  // [N]
  RecurrentState state;
  const int64_t predicted = all.size(0) - 1;
  for (int64_t start = 0; start < predicted; start += chunk) {
    const int64_t n = std::min(chunk, predicted - start);
    const auto input = all.narrow(0, start, n).unsqueeze(0);       // [1, n]
    const auto target = all.narrow(0, start + 1, n).unsqueeze(0);  // [1, n]
    torch::Tensor logits;
    {
      PrecisionScope scope(precision, device);
      logits = model->logits(model->stream_features(input, state));  // [1, n, V]
    }
    const auto log_probs = torch::log_softmax(logits.to(torch::kFloat32), -1);
    score.log_prob += log_probs.gather(-1, target.unsqueeze(-1)).sum().item<double>();
    score.tokens += n;
  }
  return score;
}

std::vector<int32_t> sample_stream(Seq2Seq& model, const std::vector<int32_t>& prefix, int64_t length,
                                   double temperature, uint64_t seed, torch::Device device) {
  if (!(temperature > 0.0)) throw Error("the sampling temperature must be above 0");
  if (prefix.empty()) throw Error("sampling a stream needs a prefix (at least the opening eos)");
  torch::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  RecurrentState state;
  const std::vector<int64_t> wide(prefix.begin(), prefix.end());
  auto features = model->stream_features(torch::tensor(wide, torch::kInt64).to(device).unsqueeze(0), state);  // [1, P, E]
  std::vector<int32_t> drawn;
  for (int64_t i = 0; i < length; ++i) {
    auto logits = model->logits(features.select(1, -1)).to(torch::kFloat32).cpu().squeeze(0);  // [V]
    for (const int32_t never : {vocab::kPadId, vocab::kUnkId, vocab::kBosId}) {
      logits[never] = -std::numeric_limits<float>::infinity();
    }
    const auto probs = torch::softmax(logits / temperature, -1);
    const auto id = static_cast<int32_t>(torch::multinomial(probs, 1, false, generator).item<int64_t>());
    drawn.push_back(id);
    features = model->stream_features(torch::full({1, 1}, static_cast<int64_t>(id), torch::kInt64).to(device), state);
  }
  return drawn;
}

}  // namespace tandem::model
