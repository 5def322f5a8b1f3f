#include <torch/torch.h>

#include "tandem/util/cpu_threads.h"

namespace tandem::util {

int set_torch_threads(int threads) {
  torch::set_num_threads(resolve_cpu_threads(threads));
  return torch::get_num_threads();
}

}  // namespace tandem::util
