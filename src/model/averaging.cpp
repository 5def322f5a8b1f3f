#include "tandem/model/averaging.h"

#include <torch/torch.h>

#include <map>

#include "tandem/error.h"

namespace tandem::model {

LoadedCheckpoint average_checkpoints(const std::vector<std::string>& paths) {
  if (paths.empty()) throw Error("averaging needs at least one checkpoint");
  std::map<std::string, torch::Tensor> sums;
  LoadedCheckpoint last;
  std::string first_options;
  std::string first_path;
  for (const auto& path : paths) {
    LoadedCheckpoint ckpt = load_checkpoint(path, torch::kCPU);
    const std::string options = ckpt.meta.options.to_json();
    if (first_path.empty()) {
      first_path = path;
      first_options = options;
    } else if (options != first_options) {
      throw Error(path + ": another architecture than " + first_path + " (" + options + " vs " + first_options +
                  "); only checkpoints of one model can be averaged");
    } else if (ckpt.meta.source_vocab != last.meta.source_vocab || ckpt.meta.target_vocab != last.meta.target_vocab) {
      throw Error(path + ": other vocabularies than " + first_path + "; only checkpoints of one model can be averaged");
    }
    torch::NoGradGuard no_grad;
    for (const auto& p : ckpt.model->named_parameters()) {
      const auto value = p.value().detach().to(torch::kFloat64);
      auto it = sums.find(p.key());
      if (it == sums.end()) {
        sums.emplace(p.key(), value.clone());
      } else {
        it->second.add_(value);
      }
    }
    last = std::move(ckpt);
  }
  torch::NoGradGuard no_grad;
  const auto count = static_cast<double>(paths.size());
  for (auto& p : last.model->named_parameters()) {
    p.value().copy_((sums.at(p.key()) / count).to(p.value().scalar_type()));
  }
  return last;
}

}  // namespace tandem::model
