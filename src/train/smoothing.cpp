#include "smoothing.h"

#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <utility>

#include "tandem/train/lr_schedule.h"

namespace tandem::train {

namespace fs = std::filesystem;

namespace {
const std::string kSnapshotPrefix = "model.iter-";
}

SmoothedWeights::SmoothedWeights(double factor, model::Seq2Seq& model, std::vector<torch::Tensor> start)
    : factor_(factor), weights_(std::move(start)) {
  if (!enabled()) {
    weights_.clear();
    return;
  }
  if (weights_.empty()) {
    for (const auto& p : model->parameters()) weights_.push_back(p.detach().clone());
  }
}

void SmoothedWeights::update(const std::vector<torch::Tensor>& weights, int64_t updates_before) {
  if (!enabled()) return;
  torch::NoGradGuard no_grad;
  const double rate = smoothing_rate(factor_, updates_before);
  for (size_t i = 0; i < weights_.size(); ++i) weights_[i].add_(weights[i].detach() - weights_[i], rate);
}

namespace {

// Puts the raw weights back when it goes, whether the body returned or threw.
class RawWeightsBack {
 public:
  explicit RawWeightsBack(std::vector<torch::Tensor> params) : params_(std::move(params)) {
    for (const auto& p : params_) raw_.push_back(p.detach().clone());
  }
  ~RawWeightsBack() {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) params_[i].copy_(raw_[i]);
  }
  RawWeightsBack(const RawWeightsBack&) = delete;
  RawWeightsBack& operator=(const RawWeightsBack&) = delete;

 private:
  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> raw_;
};

}  // namespace

void SmoothedWeights::run_with(model::Seq2Seq& model, const std::function<void()>& body) const {
  if (!enabled()) return body();
  torch::NoGradGuard no_grad;
  const auto params = model->parameters();
  const RawWeightsBack restore(params);
  for (size_t i = 0; i < params.size(); ++i) params[i].copy_(weights_[i]);
  body();
}

fs::path snapshot_path(const fs::path& dir, int64_t updates) {
  return dir / (kSnapshotPrefix + std::to_string(updates) + ".ckpt");
}

void prune_snapshots(const fs::path& dir, int64_t keep) {
  std::vector<std::pair<int64_t, fs::path>> snapshots;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kSnapshotPrefix, 0) != 0 || entry.path().extension() != ".ckpt") continue;
    try {
      snapshots.emplace_back(std::stoll(name.substr(kSnapshotPrefix.size())), entry.path());
    } catch (const std::exception&) {
      // not one of ours (model.iter-best.ckpt, say): left alone
    }
  }
  std::sort(snapshots.begin(), snapshots.end());
  for (size_t i = 0; i + static_cast<size_t>(keep) < snapshots.size(); ++i) fs::remove(snapshots[i].second);
}

}  // namespace tandem::train
