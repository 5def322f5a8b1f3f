// FusedAdam: LibTorch's Adam with its update in one pass over each parameter.
//
// torch::optim::Adam (LibTorch 1.13 has no fused or foreach CPU Adam) updates a
// parameter with seven element-wise operations, each a pass over memory and some
// a temporary: 17.8 ms a step for 11 M parameters on one thread of a Zen 5 (with
// the trainer's allocator settings; 110 ms without them, every temporary a fresh
// mapping). FusedAdam reads the parameter, its gradient and the two moments once
// and writes them once, vectorized for the CPU (5.4 ms; `tandem-bench adam`),
// over LibTorch's threads (at::parallel_for). Same options, same state (AdamParamState under the same keys), so
// checkpoints of either load into the other; the arithmetic is Adam's, in
// float32, so values agree with torch::optim::Adam to rounding.
//
// Parameters it cannot fuse (not float32 on the CPU, not contiguous, a sparse
// gradient) and the options it does not fuse (amsgrad, weight decay) take
// torch::optim::Adam's own step for the whole step.
#pragma once

#include <torch/optim/adam.h>

#include <vector>

namespace tandem::train {

class FusedAdam : public torch::optim::Adam {
 public:
  using torch::optim::Adam::Adam;
  torch::Tensor step(LossClosure closure = nullptr) override;

  /// Whether step() fuses the update of these parameters with these options.
  bool fuses() const;
};

}  // namespace tandem::train
