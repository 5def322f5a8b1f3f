// tandem-bench: the figures bench/ scripts need from inside LibTorch.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "tandem/dist/communicator.h"
#include "tandem/dist/launch.h"
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
    "       tandem-bench allreduce [--megabytes M] [--repeats R]   (under torchrun's variables, as tandem-train)\n"
    "mm: the rate of a large square matrix product (torch::mm) on this machine, in\n"
    "    GFLOP/s (2 N^3 operations a product; the mean over --seconds after warm-up):\n"
    "    the peak that training's rate is compared with.\n"
    "flops: the model's floating-point operations per target token, by part, for\n"
    "    sentences of S source and T target tokens (eos included; corpus means),\n"
    "    forward and for training (see include/tandem/model/flops.h for the rules).\n"
    "allreduce: the time of one all-reduce of M MB of float32 (a gradient's size) among\n"
    "    the workers, as training sums its gradients (25 MiB buckets); rank 0 prints the\n"
    "    mean and the fastest of R, and the bus rate (2 (N-1)/N x bytes / time).\n"
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

int allreduce(int argc, char** argv) {
  double megabytes = 44.0;
  int repeats = 10;
  double timeout = 60;
  std::string interface;
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")
      ("megabytes", defaulted(&megabytes), "MB (10^6 bytes) of float32 summed")
      ("repeats", po::value<int>(&repeats)->default_value(repeats), "all-reduces measured (after one unmeasured)")
      ("distributed-timeout", defaulted(&timeout), "seconds a worker waits for the others")
      ("distributed-interface", po::value<std::string>(&interface), "network interface(s), as tandem-train's");
  auto vm = parse(argc, argv, options, nullptr);
  if (print_help_if_asked(vm, kUsage, options)) return 0;
  po::notify(vm);
  if (megabytes <= 0 || repeats < 1) throw Error("--megabytes must be above 0 and --repeats at least 1");
  const auto launch = dist::launch_from_environment();
  if (!launch.distributed()) throw Error("allreduce measures several workers: start it as tandem-train's workers are "
                                         "started (torchrun, mpirun, srun, or RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT)");
  util::set_torch_threads(1, true);
  dist::CommunicatorOptions comm_options;
  comm_options.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000));
  comm_options.interface = interface;
  const auto comm = dist::Communicator::connect(launch, comm_options, torch::kCPU);
  const auto values = torch::ones({static_cast<int64_t>(megabytes * 1e6 / 4)});
  using Clock = std::chrono::steady_clock;
  std::vector<double> ms;
  const double world = static_cast<double>(comm->size());
  for (int i = 0; i <= repeats; ++i) {
    values.fill_(1);
    comm->barrier("the next all-reduce");
    const auto start = Clock::now();
    comm->all_reduce_sum({values}, "the measured all-reduce");
    if (i > 0) ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (values[-1].item<double>() != world) throw Error("the all-reduce summed wrongly");
  }
  if (comm->rank() == 0) {
    double sum = 0;
    double fastest = ms.front();
    for (const double m : ms) {
      sum += m;
      fastest = std::min(fastest, m);
    }
    const double mean = sum / static_cast<double>(ms.size());
    const double bus_bytes = 2 * (world - 1) / world * static_cast<double>(values.numel()) * 4;
    std::printf("allreduce %.1f MB float32, %d workers: mean %.1f ms, fastest %.1f ms; bus rate %.2f Gbit/s (mean)\n",
                megabytes, static_cast<int>(comm->size()), mean, fastest, bus_bytes * 8 / (mean / 1000) / 1e9);
  }
  return 0;
}

int run(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "mm") return mm(argc - 1, argv + 1);
  if (what == "flops") return flops(argc - 1, argv + 1);
  if (what == "allreduce") return allreduce(argc - 1, argv + 1);
  if (what == "-h" || what == "--help") {
    std::cout << kUsage << "\n";
    return 0;
  }
  throw Error(what.empty() ? "say what to measure: mm, flops or allreduce (see --help)"
                           : "unknown measurement '" + what + "'; use mm, flops or allreduce (see --help)");
}

}  // namespace

int bench_main(int argc, char** argv) {
  return run_torch_program(kProgram, argc, argv, [&] { return run(argc, argv); });
}

}  // namespace tandem::cli
