// Internal to the programs: the text forms of typed options, parsed once at the edge.
#pragma once

#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "tandem/eval/metric.h"
#include "tandem/train/lr_schedule.h"
#include "tandem/train/train_options.h"

namespace tandem::cli {

/// "cpu", "cuda" or "cuda:N"; throws tandem::Error for anything else, and for
/// CUDA where this LibTorch build or machine has none.
torch::Device parse_device(const std::string& name);

/// "adam" or "sgd" (--optim).
train::OptimizerType parse_optimizer(const std::string& name);

/// "constant", "inverse-sqrt" or "plateau" (--lr-schedule).
train::LrScheduleType parse_lr_schedule(const std::string& name);

/// --valid-metrics: at least one, none twice.
std::vector<eval::Metric> parse_metrics(const std::vector<std::string>& names);

/// "LibTorch 1.13.0, CUDA no" (or "CUDA yes, N devices"): for --version.
std::string torch_build_info();

/// run_guarded for a program that links LibTorch: first the CPU kernels are
/// chosen (util::use_best_cpu_kernels, before the program's first tensor
/// operation), and --version adds torch_build_info().
int run_torch_program(const std::string& program, int argc, char** argv, const std::function<int()>& body);

}  // namespace tandem::cli
