// GradientSum: the gradients of an update summed over the workers, the sums
// started during the update's last backward pass as the gradients become ready
// (as PyTorch's DistributedDataParallel does), so that sending overlaps computing.
//
// Usage (each update):
//   GradientSum sums(comm, model->parameters(), /*overlap=*/true);   // once
//   for (k < delay) { if (k == delay - 1) sums.arm(); loss.backward(); }
//   sums.finish();   // every p.grad() now holds the sum over the workers
//
// Buckets: consecutive parameters, last first (backward produces the output
// layer's gradients first), at most `bucket_bytes` each (kBucketBytes). A bucket's sum starts
// when its gradients and every earlier bucket's are ready, so every worker
// starts the same sums in the same order; finish() starts the rest (gradients
// that this backward did not reach, or every bucket when a worker skipped its
// backward for a loss that is not finite) and waits. Without overlap, finish()
// sums all gradients at once. A communicator that is not connected sums nothing.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "tandem/dist/communicator.h"

namespace tandem::train {

class GradientSum {
 public:
  static constexpr int64_t kBucketBytes = int64_t{4} << 20;

  GradientSum(dist::Communicator& comm, std::vector<torch::Tensor> parameters, bool overlap,
              int64_t bucket_bytes = kBucketBytes);
  ~GradientSum();  // removes its hooks
  GradientSum(const GradientSum&) = delete;
  GradientSum& operator=(const GradientSum&) = delete;

  /// The next backward pass is the update's last: its gradients start their sums when ready.
  void arm();
  /// Every parameter's gradient (zeros where none was computed) summed over the workers into p.grad().
  void finish();
  /// Buckets whose sum has started since arm(), and the buckets in all.
  size_t started() const { return started_; }
  size_t buckets() const { return buckets_.size(); }

 private:
  void ready(size_t parameter, const torch::Tensor& gradient);
  void start(size_t bucket);
  void start_ready_buckets();

  dist::Communicator& comm_;
  std::vector<torch::Tensor> parameters_;
  bool overlap_;
  std::vector<unsigned> hooks_;
  std::vector<std::vector<size_t>> buckets_;  // parameter indices, last parameters first
  std::vector<torch::Tensor> values_;         // each parameter's whole gradient once ready
  std::vector<torch::Tensor> flats_;          // each started bucket's flat tensor
  std::vector<int64_t> handles_;
  size_t started_ = 0;
  bool armed_ = false;
};

}  // namespace tandem::train
