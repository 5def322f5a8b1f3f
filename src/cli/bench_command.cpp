// tandem-bench: the figures bench/ scripts need from inside LibTorch.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "tandem/error.h"
#include "tandem/model/flops.h"
#include "tandem/model/checkpoint.h"
#include "tandem/util/cpu_threads.h"
#include "cli/option_parsers.h"

namespace tandem::cli {
namespace {

constexpr const char* kProgram = "tandem-bench";
constexpr const char* kUsage =
    "Usage: tandem-bench mm [--size N] [--dtype float32|bfloat16] [--seconds S] [--cpu-threads N] [--device D]\n"
    "       tandem-bench flops -m CHECKPOINT --source-length S --target-length T\n"
    "mm: the rate of a large square matrix product (torch::mm) on this machine, in\n"
    "    GFLOP/s (2 N^3 operations a product; the mean over --seconds after warm-up):\n"
    "    the peak that training's rate is compared with.\n"
    "flops: the model's floating-point operations per target token, by part, for\n"
    "    sentences of S source and T target tokens (eos included; corpus means),\n"
    "    forward and for training (see include/tandem/model/flops.h for the rules).\n"
    "Example: tandem-bench mm --cpu-threads 2; tandem-bench flops -m model/model.ckpt "
    "--source-length 14.1 --target-length 15.3";

int mm(int argc, char** argv) {
  int64_t size = 2048;
  std::string dtype = "float32";
  std::string device_name = "cpu";
  double seconds = 3;
  int threads = 0;
  bool quiet = false;
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")
      ("size", po::value<int64_t>(&size)->default_value(size), "rows = columns = inner size")
      ("dtype", po::value<std::string>(&dtype)->default_value(dtype), "float32 or bfloat16")
      ("seconds", defaulted(&seconds), "time spent measuring")
      ("device", po::value<std::string>(&device_name)->default_value(device_name), "cpu, cuda or cuda:N");
  add_cpu_threads_option(options, &threads);
  add_quiet_option(options, &quiet);
  auto vm = parse(argc, argv, options, nullptr);
  if (print_help_if_asked(vm, kUsage, options)) return 0;
  po::notify(vm);
  if (size < 1) throw Error("--size must be at least 1");
  if (dtype != "float32" && dtype != "bfloat16") throw Error("--dtype must be float32 or bfloat16");
  util::set_torch_threads(announce_cpu_threads(kProgram, threads, quiet), quiet);
  const auto device = parse_device(device_name);
  const auto type = dtype == "float32" ? torch::kFloat32 : torch::kBFloat16;
  const auto a = torch::randn({size, size}).to(device, type);
  const auto b = torch::randn({size, size}).to(device, type);
  const auto sync = [&] { (void)a.sum().item<float>(); };  // waits for a GPU too
  for (int i = 0; i < 3; ++i) torch::mm(a, b);
  sync();
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  int64_t products = 0;
  double elapsed = 0;
  do {
    for (int i = 0; i < 4; ++i) torch::mm(a, b);
    products += 4;
    sync();
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds);
  const double flops = 2.0 * static_cast<double>(size) * static_cast<double>(size) * static_cast<double>(size);
  std::printf("mm %s %lldx%lld on %s: %.1f GFLOP/s (%lld products in %.2f s)\n", dtype.c_str(),
              static_cast<long long>(size), static_cast<long long>(size), device.str().c_str(),
              flops * static_cast<double>(products) / elapsed / 1e9, static_cast<long long>(products), elapsed);
  return 0;
}

int flops(int argc, char** argv) {
  std::string model;
  double source_length = 0;
  double target_length = 0;
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")
      ("model,m", po::value<std::string>(&model)->required(), "checkpoint whose sizes to count")
      ("source-length", po::value<double>(&source_length)->required(), "mean source tokens a sentence, eos included")
      ("target-length", po::value<double>(&target_length)->required(), "mean target tokens a sentence, eos included");
  auto vm = parse(argc, argv, options, nullptr);
  if (print_help_if_asked(vm, kUsage, options)) return 0;
  po::notify(vm);
  const auto ckpt = model::load_checkpoint(model, torch::kCPU);
  const auto count = model::count_flops(ckpt.meta.options, source_length, target_length);
  const std::vector<std::pair<const char*, double>> parts = {{"encoder", count.encoder},
                                                             {"attention", count.attention},
                                                             {"decoder", count.decoder},
                                                             {"features", count.features},
                                                             {"output", count.output}};
  std::printf("per target token, sentences of %.2f source and %.2f target tokens:\n", source_length, target_length);
  for (const auto& [name, value] : parts) {
    std::printf("  %-10s %8.3f MFLOP forward  %5.1f%%\n", name, value / 1e6, 100 * value / count.forward());
  }
  std::printf("forward %.3f MFLOP\ntraining %.3f MFLOP\n", count.forward() / 1e6, count.training() / 1e6);
  return 0;
}

int run(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "mm") return mm(argc - 1, argv + 1);
  if (what == "flops") return flops(argc - 1, argv + 1);
  if (what == "-h" || what == "--help") {
    std::cout << kUsage << "\n";
    return 0;
  }
  throw Error(what.empty() ? "say what to measure: mm or flops (see --help)"
                           : "unknown measurement '" + what + "'; use mm or flops (see --help)");
}

}  // namespace

int bench_main(int argc, char** argv) {
  return run_guarded(kProgram, argc, argv, [&] { return run(argc, argv); }, torch_build_info);
}

}  // namespace tandem::cli
