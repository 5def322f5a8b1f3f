#include <torch/torch.h>

#include <iostream>

#include "tandem/util/cpu_kernels.h"
#include "tandem/util/cpu_threads.h"

namespace tandem::util {

int set_torch_threads(int threads, bool quiet) {
  // Before the first product of the program: the kernels OpenBLAS and LibTorch compute with.
  if (const auto note = use_best_cpu_kernels(); !note.empty() && !quiet) std::cerr << note << "\n";
  torch::set_num_threads(resolve_cpu_threads(threads));
  return torch::get_num_threads();
}

}  // namespace tandem::util
