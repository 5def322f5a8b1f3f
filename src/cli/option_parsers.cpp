#include "cli/option_parsers.h"

#include "cli/common_options.h"
#include "tandem/util/cpu_kernels.h"

#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>

#include "tandem/error.h"

namespace tandem::cli {

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
  if (!device.is_cpu() && !device.is_cuda()) throw Error("unknown --device '" + name + "'; use cpu, cuda or cuda:N");
  return device;
}

train::OptimizerType parse_optimizer(const std::string& name) {
  if (name == "adam") return train::OptimizerType::kAdam;
  if (name == "sgd") return train::OptimizerType::kSgd;
  throw Error("unknown --optim '" + name + "'; use adam or sgd");
}

train::LrScheduleType parse_lr_schedule(const std::string& name) {
  if (name == "constant") return train::LrScheduleType::kConstant;
  if (name == "inverse-sqrt") return train::LrScheduleType::kInverseSqrt;
  if (name == "plateau") return train::LrScheduleType::kPlateau;
  throw Error("unknown --lr-schedule '" + name + "'; use constant, inverse-sqrt or plateau");
}

std::vector<eval::Metric> parse_metrics(const std::vector<std::string>& names) {
  if (names.empty()) throw Error("--valid-metrics needs at least one metric");
  std::vector<eval::Metric> metrics;
  for (const auto& name : names) {
    const auto metric = eval::parse_metric(name);
    if (std::find(metrics.begin(), metrics.end(), metric) != metrics.end()) {
      throw Error("--valid-metrics names '" + name + "' twice");
    }
    metrics.push_back(metric);
  }
  return metrics;
}

int run_torch_program(const std::string& program, int argc, char** argv, const std::function<int()>& body) {
  util::use_best_cpu_kernels();
  return run_guarded(program, argc, argv, body, torch_build_info);
}

std::string torch_build_info() {
  std::string text = "LibTorch " + std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                     std::to_string(TORCH_VERSION_PATCH) + ", CUDA ";
  const auto devices = torch::cuda::device_count();
  return text + (devices > 0 ? "yes, " + std::to_string(devices) + " device" + (devices == 1 ? "" : "s") : "no");
}

}  // namespace tandem::cli
