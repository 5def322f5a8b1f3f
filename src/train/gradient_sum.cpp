#include "gradient_sum.h"

#include <utility>

namespace tandem::train {

GradientSum::GradientSum(dist::Communicator& comm, std::vector<torch::Tensor> parameters, bool overlap,
                         int64_t bucket_bytes)
    : comm_(comm), parameters_(std::move(parameters)), overlap_(overlap && comm.connected()) {
  int64_t bytes = 0;
  for (size_t k = parameters_.size(); k-- > 0;) {
    const auto& p = parameters_[k];
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    if (buckets_.empty() || (bytes + size > bucket_bytes && !buckets_.back().empty())) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().push_back(k);
    bytes += size;
  }
  values_.resize(parameters_.size());
  if (!overlap_) return;
  for (size_t k = 0; k < parameters_.size(); ++k) {
    if (!parameters_[k].requires_grad()) continue;
    hooks_.push_back(parameters_[k].register_hook([this, k](torch::Tensor gradient) { ready(k, gradient); }));
  }
}

GradientSum::~GradientSum() {
  size_t h = 0;
  for (auto& p : parameters_) {
    if (p.requires_grad() && h < hooks_.size()) p.remove_hook(hooks_[h++]);
  }
}

void GradientSum::arm() {
  if (!overlap_) return;
  armed_ = true;
  started_ = 0;
  for (auto& v : values_) v = torch::Tensor();
  flats_.assign(buckets_.size(), torch::Tensor());
  handles_.assign(buckets_.size(), -1);
}

// Called by autograd when this backward's gradient of parameter k is computed,
// before it is added to p.grad(): the whole gradient is the two together.
void GradientSum::ready(size_t k, const torch::Tensor& gradient) {
  if (!armed_) return;
  torch::NoGradGuard no_grad;
  const auto& held = parameters_[k].grad();
  values_[k] = held.defined() ? held + gradient : gradient.clone();
  start_ready_buckets();
}

void GradientSum::start_ready_buckets() {
  while (started_ < buckets_.size()) {
    for (const size_t k : buckets_[started_]) {
      if (!values_[k].defined()) return;
    }
    start(started_++);
  }
}

void GradientSum::start(size_t b) {
  std::vector<torch::Tensor> pieces;
  for (const size_t k : buckets_[b]) pieces.push_back(values_[k].reshape({-1}));
  flats_[b] = pieces.size() == 1 ? pieces[0].clone() : torch::cat(pieces);
  handles_[b] = comm_.start_sum(flats_[b], "the sum of the gradients");
}

void GradientSum::finish() {
  torch::NoGradGuard no_grad;
  for (auto& p : parameters_) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
  }
  if (!comm_.connected()) return;
  if (!overlap_) {
    std::vector<torch::Tensor> gradients;
    for (auto& p : parameters_) gradients.push_back(p.grad());
    comm_.all_reduce_sum(gradients, "the sum of the gradients");
    return;
  }
  if (!armed_) arm();
  // Gradients this backward did not produce (unused parameters, or no backward at all) as they stand.
  for (size_t k = 0; k < parameters_.size(); ++k) {
    if (!values_[k].defined()) values_[k] = parameters_[k].grad();
  }
  start_ready_buckets();
  armed_ = false;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    comm_.finish_sum(handles_[b]);
    int64_t offset = 0;
    for (const size_t k : buckets_[b]) {
      auto& grad = parameters_[k].mutable_grad();
      const int64_t n = grad.numel();
      grad.copy_(flats_[b].narrow(0, offset, n).view_as(grad));
      offset += n;
    }
  }
  for (auto& v : values_) v = torch::Tensor();
}

}  // namespace tandem::train
