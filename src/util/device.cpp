#include "tandem/util/device.h"

#include <torch/torch.h>

#include "tandem/error.h"

namespace tandem::util {

torch::Device parse_device(const std::string& name) {
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    throw Error("unknown --device '" + name + "'; use cpu, cuda or cuda:N");
  }
  if (device.is_cuda() && !torch::cuda::is_available()) {
    throw Error("--device " + name + ": this LibTorch build or machine has no CUDA device; use --device cpu");
  }
  return device;
}

}  // namespace tandem::util
