// tandem-bench: the figures bench/ scripts need from inside LibTorch.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "tandem/dist/communicator.h"
#include "tandem/dist/launch.h"
#include "tandem/error.h"
#include "tandem/model/flops.h"
#include "tandem/model/checkpoint.h"
#include "tandem/util/allocator.h"
#include "tandem/util/cpu_kernels.h"
#include "tandem/util/cpu_threads.h"
#include "train/fused_adam.h"
#include "cli/option_parsers.h"

namespace tandem::cli {
namespace {

constexpr const char* kProgram = "tandem-bench";
constexpr const char* kUsage =
    "Usage: tandem-bench mm [--size N] [--dtype float32|bfloat16] [--seconds S] [--cpu-threads N] [--device D]\n"
    "                       [--candidates [--rounds R]]\n"
    "       tandem-bench flops -m CHECKPOINT --source-length S --target-length T\n"
    "       tandem-bench allreduce [--megabytes M] [--repeats R]   (under torchrun's variables, as tandem-train)\n"
    "       tandem-bench adam [--parameters M] [--rounds R] [--cpu-threads N]\n"
    "mm: the rate of a large square matrix product (torch::mm) on this machine, in\n"
    "    GFLOP/s (2 N^3 operations a product; the mean over --seconds after warm-up):\n"
    "    the rate of the kernels Tandem's programs use. --candidates (CPU): every\n"
    "    kernel this CPU runs for the type, in R alternating rounds (the best round of\n"
    "    each): OpenBLAS's core types (float32) and oneDNN's products, and which one\n"
    "    the programs use; the last line gives the peak (the fastest candidate), which\n"
    "    training's rate is compared with (bench/scaling.sh), and the share of it that\n"
    "    the kernels in use reach.\n"
    "flops: the model's floating-point operations per target token, by part, for\n"
    "    sentences of S source and T target tokens (eos included; corpus means),\n"
    "    forward and for training (see include/tandem/model/flops.h for the rules).\n"
    "allreduce: the time of one all-reduce of M MB of float32 (a gradient's size) among\n"
    "    the workers, as training sums its gradients (25 MiB buckets); rank 0 prints the\n"
    "    mean and the fastest of R, and the bus rate (2 (N-1)/N x bytes / time).\n"
    "adam: the time of one optimizer step over M million float32 parameters (in tensors\n"
    "    of a translation model's shapes), LibTorch's Adam and Tandem's FusedAdam, which\n"
    "    training uses; R rounds of 10 steps each, alternating, the fastest round of each.\n"
    "Example: tandem-bench mm --cpu-threads 2; tandem-bench flops -m model/model.ckpt "
    "--source-length 14.1 --target-length 15.3";

// GFLOP/s of `product` (one size^3 product a call) over `seconds` after a warm-up.
double product_rate(const std::function<void()>& product, const std::function<void()>& sync, int64_t size,
                    double seconds, int64_t* products = nullptr, double* elapsed_out = nullptr) {
  for (int i = 0; i < 3; ++i) product();
  sync();
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  int64_t count = 0;
  double elapsed = 0;
  do {
    for (int i = 0; i < 4; ++i) product();
    count += 4;
    sync();
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds);
  if (products != nullptr) *products = count;
  if (elapsed_out != nullptr) *elapsed_out = elapsed;
  const double n = static_cast<double>(size);
  return 2.0 * n * n * n * static_cast<double>(count) / elapsed / 1e9;
}

// One kernel for the product: `use` makes it the one torch::mm runs (false: this
// machine lacks it), `product` multiplies.
struct MmCandidate {
  std::string name;
  std::function<bool()> use;
  std::function<void()> product;
  bool in_use = false;
  double best = 0;
};

// --candidates: every product kernel this CPU runs for `type`, measured in
// alternating rounds; OpenBLAS's choice is restored afterwards.
void mm_candidates(const torch::Tensor& a, const torch::Tensor& b, double seconds, int rounds) {
  const std::string in_use = util::openblas_core();
  const bool float32 = a.scalar_type() == torch::kFloat32;
  std::vector<MmCandidate> candidates;
  const auto mm = [a, b] { torch::mm(a, b); };
  if (float32) {
    for (const auto& core : util::openblas_core_candidates(util::cpu_vector_features())) {
      candidates.push_back({"OpenBLAS " + core, [core] { return util::use_openblas_core(core); }, mm});
    }
    const bool listed = std::any_of(candidates.begin(), candidates.end(),
                                    [&](const MmCandidate& c) { return c.name == "OpenBLAS " + in_use; });
    if (!in_use.empty() && !listed) {
      candidates.push_back({"OpenBLAS " + in_use, [in_use] { return util::use_openblas_core(in_use); }, mm});
    }
    for (auto& c : candidates) c.in_use = c.name == "OpenBLAS " + in_use;
    if (in_use.empty()) candidates.push_back({"LibTorch's BLAS", [] { return true; }, mm, true});
  } else {
    // LibTorch's bfloat16 product: oneDNN's with AVX-512, a generic loop without.
    const bool onednn = util::cpu_vector_features().avx512;
    candidates.push_back(
        {onednn ? "oneDNN (torch::mm)" : "LibTorch's loop (torch::mm)", [] { return true; }, mm, onednn});
  }
  // oneDNN's bfloat16 products need AVX-512 (mkldnn_linear refuses them without it).
  if (at::hasMKLDNN() && (float32 || util::cpu_vector_features().avx512)) {
    // oneDNN's inner-product primitive on a oneDNN tensor: a x b^T, the same work.
    const auto a_onednn = a.to_mkldnn();
    candidates.push_back({"oneDNN (mkldnn_linear)", [] { return true; },
                          [a_onednn, b] { torch::mkldnn_linear(a_onednn, b); }});
  }
  const auto sync = [] {};  // CPU products return when done
  for (int round = 0; round < rounds; ++round) {
    for (auto& c : candidates) {
      if (!c.use()) {
        c.best = -1;
        continue;
      }
      c.best = std::max(c.best, product_rate(c.product, sync, a.size(0), seconds));
    }
  }
  if (!in_use.empty()) util::use_openblas_core(in_use);
  const auto peak = *std::max_element(candidates.begin(), candidates.end(),
                                      [](const MmCandidate& x, const MmCandidate& y) { return x.best < y.best; });
  const auto used = std::find_if(candidates.begin(), candidates.end(), [](const MmCandidate& c) { return c.in_use; });
  const std::string type = float32 ? "float32" : "bfloat16";
  std::printf("mm %s %lldx%lld, %d thread(s), best of %d round(s) of %.1f s:\n", type.c_str(),
              static_cast<long long>(a.size(0)), static_cast<long long>(a.size(0)), at::get_num_threads(), rounds,
              seconds);
  for (const auto& c : candidates) {
    if (c.best < 0) {
      std::printf("  %-26s not in this OpenBLAS\n", c.name.c_str());
    } else {
      std::printf("  %-26s %8.1f GFLOP/s%s\n", c.name.c_str(), c.best, c.in_use ? "  <- Tandem's programs" : "");
    }
  }
  if (used == candidates.end()) {  // model::usable_precision
    std::printf("peak %s %.1f GFLOP/s (%s); Tandem's programs run --precision bfloat16 in float32 on this CPU "
                "(no AVX-512)\n",
                type.c_str(), peak.best, peak.name.c_str());
    return;
  }
  std::printf("peak %s %.1f GFLOP/s (%s); in use %s: %.1f%% of the peak\n", type.c_str(), peak.best, peak.name.c_str(),
              used->name.c_str(), 100 * used->best / peak.best);
}

int mm(int argc, char** argv) {
  int64_t size = 2048;
  std::string dtype = "float32";
  std::string device_name = "cpu";
  double seconds = 3;
  int threads = 0;
  int rounds = 2;
  bool quiet = false;
  bool candidates = false;
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")
      ("size", po::value<int64_t>(&size)->default_value(size), "rows = columns = inner size")
      ("dtype", po::value<std::string>(&dtype)->default_value(dtype), "float32 or bfloat16")
      ("seconds", defaulted(&seconds), "time spent measuring (each candidate each round with --candidates)")
      ("candidates", po::bool_switch(&candidates), "measure every kernel this CPU runs for the type")
      ("rounds", defaulted(&rounds), "rounds over the candidates (the best of each counts)")
      ("device", po::value<std::string>(&device_name)->default_value(device_name), "cpu, cuda or cuda:N");
  add_cpu_threads_option(options, &threads);
  add_quiet_option(options, &quiet);
  auto vm = parse(argc, argv, options, nullptr);
  if (print_help_if_asked(vm, kUsage, options)) return 0;
  po::notify(vm);
  if (size < 1) throw Error("--size must be at least 1");
  if (rounds < 1) throw Error("--rounds must be at least 1");
  if (dtype != "float32" && dtype != "bfloat16") throw Error("--dtype must be float32 or bfloat16");
  util::set_torch_threads(announce_cpu_threads(kProgram, threads, quiet), quiet);
  const auto device = parse_device(device_name);
  if (candidates && !device.is_cpu()) throw Error("--candidates measures the CPU's kernels; leave out --device");
  const auto type = dtype == "float32" ? torch::kFloat32 : torch::kBFloat16;
  const auto a = torch::randn({size, size}).to(device, type);
  const auto b = torch::randn({size, size}).to(device, type);
  if (candidates) {
    mm_candidates(a, b, seconds, rounds);
    return 0;
  }
  int64_t products = 0;
  double elapsed = 0;
  const double rate = product_rate([&] { torch::mm(a, b); }, [&] { (void)a.sum().item<float>(); },  // waits for a GPU too
                                   size, seconds, &products, &elapsed);
  std::printf("mm %s %lldx%lld on %s: %.1f GFLOP/s (%lld products in %.2f s)\n", dtype.c_str(),
              static_cast<long long>(size), static_cast<long long>(size), device.str().c_str(), rate,
              static_cast<long long>(products), elapsed);
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

int adam(int argc, char** argv) {
  double millions = 12.4;
  int rounds = 5;
  int threads = 0;
  bool quiet = false;
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")
      ("parameters", defaulted(&millions), "millions of parameters")
      ("rounds", defaulted(&rounds), "rounds of 10 steps for each optimizer");
  add_cpu_threads_option(options, &threads);
  add_quiet_option(options, &quiet);
  auto vm = parse(argc, argv, options, nullptr);
  if (print_help_if_asked(vm, kUsage, options)) return 0;
  po::notify(vm);
  if (millions <= 0 || rounds < 1) throw Error("--parameters must be above 0 and --rounds at least 1");
  util::keep_freed_memory();  // as in training: the step's temporaries reuse freed memory
  util::set_torch_threads(announce_cpu_threads(kProgram, threads, quiet), quiet);
  // Embeddings and an output layer of a 8k vocabulary at 256/512, the rest in recurrent matrices.
  const auto total = static_cast<int64_t>(millions * 1e6);
  std::vector<int64_t> sizes;
  for (const int64_t n : {int64_t{8000 * 256}, int64_t{8000 * 256}, int64_t{8000 * 512}}) {
    if (std::accumulate(sizes.begin(), sizes.end(), int64_t{0}) + n <= total) sizes.push_back(n);
  }
  for (int64_t used = std::accumulate(sizes.begin(), sizes.end(), int64_t{0}); used < total;) {
    const int64_t n = std::min<int64_t>(3 * 512 * 768, total - used);
    sizes.push_back(n);
    used += n;
  }
  auto make = [&] {
    torch::manual_seed(1);
    std::vector<torch::Tensor> params;
    for (const int64_t n : sizes) {
      params.push_back(torch::randn({n}).requires_grad_());
      params.back().mutable_grad() = torch::randn({n});
    }
    return params;
  };
  auto plain_params = make();
  auto fused_params = make();
  torch::optim::Adam plain(plain_params, torch::optim::AdamOptions(1e-3));
  train::FusedAdam fused(fused_params, torch::optim::AdamOptions(1e-3));
  using Clock = std::chrono::steady_clock;
  auto round = [](torch::optim::Optimizer& optimizer) {
    const auto start = Clock::now();
    for (int i = 0; i < 10; ++i) optimizer.step();
    return std::chrono::duration<double>(Clock::now() - start).count() / 10 * 1000;
  };
  round(plain);
  round(fused);
  double best_plain = 1e30;
  double best_fused = 1e30;
  for (int r = 0; r < rounds; ++r) {
    best_plain = std::min(best_plain, round(plain));
    best_fused = std::min(best_fused, round(fused));
  }
  std::printf("adam step over %.1f M parameters, %d thread(s): LibTorch's Adam %.1f ms, FusedAdam %.1f ms (%.2fx)\n",
              static_cast<double>(total) / 1e6, at::get_num_threads(), best_plain, best_fused, best_plain / best_fused);
  return 0;
}

int run(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "adam") return adam(argc - 1, argv + 1);
  if (what == "mm") return mm(argc - 1, argv + 1);
  if (what == "flops") return flops(argc - 1, argv + 1);
  if (what == "allreduce") return allreduce(argc - 1, argv + 1);
  if (what == "-h" || what == "--help") {
    std::cout << kUsage << "\n";
    return 0;
  }
  throw Error(what.empty() ? "say what to measure: mm, flops, allreduce or adam (see --help)"
                           : "unknown measurement '" + what + "'; use mm, flops, allreduce or adam (see --help)");
}

}  // namespace

int bench_main(int argc, char** argv) {
  return run_torch_program(kProgram, argc, argv, [&] { return run(argc, argv); });
}

}  // namespace tandem::cli
