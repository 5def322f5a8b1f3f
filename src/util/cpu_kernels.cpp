#include "tandem/util/cpu_kernels.h"

#include <dlfcn.h>

#include <cctype>
#include <cstdlib>
#include <mutex>

namespace tandem::util {
namespace {

using CorenameFn = char* (*)();
using VoidFn = void (*)();

template <typename Fn>
Fn find_symbol(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}

// LibTorch reads ATEN_CPU_CAPABILITY at its first element-wise operation, so the
// variable must be set before that (it stays set: child processes choose the same).
// Empty when the user had set it or the CPU keeps LibTorch's own choice.
std::string choose_aten_capability() {
  if (std::getenv("ATEN_CPU_CAPABILITY") != nullptr) return "";
  const std::string capability = aten_capability_for(cpu_vector_features());
  if (!capability.empty()) setenv("ATEN_CPU_CAPABILITY", capability.c_str(), 0);
  return capability;
}

std::string lowercase(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

CpuVectorFeatures cpu_vector_features() {
  CpuVectorFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  // libgcc's checks include the operating system's support (XCR0) for the registers.
  __builtin_cpu_init();
  f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512 = f.avx2_fma && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl");
  f.avx512_bf16 = f.avx512 && __builtin_cpu_supports("avx512bf16");
  f.vnni =
      (f.avx512 && __builtin_cpu_supports("avx512vnni")) || (f.avx2_fma && __builtin_cpu_supports("avxvnni"));
#endif
  return f;
}

std::string better_openblas_core(const std::string& current, const CpuVectorFeatures& cpu) {
  if (current.empty()) return "";  // not OpenBLAS
  const std::string lower = lowercase(current);
  const bool has_avx512_kernels = lower == "skylakex" || lower == "cooperlake" || lower == "sapphirerapids";
  // AVX-512 where OpenBLAS chose narrower kernels (Debian's 0.3.21 picks Haswell on
  // Zen 4 and Zen 5): its SkylakeX kernels ran float32 products 1.8-1.9x faster on
  // Zen 5 (tandem-bench mm, ../shared/ENVIRONMENT.md trap 4, issue 29).
  if (cpu.avx512 && !has_avx512_kernels) return "SkylakeX";
  if (current == "Prescott" && cpu.avx2_fma) return "Haswell";
  return "";
}

std::vector<std::string> openblas_core_candidates(const CpuVectorFeatures& cpu) {
  std::vector<std::string> cores;
  if (cpu.avx2_fma) cores = {"Haswell", "Zen"};
  if (cpu.avx512) cores.push_back("SkylakeX");
  if (cpu.avx512_bf16) cores.push_back("Cooperlake");
  return cores;
}

bool use_openblas_core(const std::string& core) {
  const auto quit = find_symbol<VoidFn>("gotoblas_dynamic_quit");
  const auto init = find_symbol<VoidFn>("gotoblas_dynamic_init");
  const std::string previous = openblas_core();
  if (core.empty() || previous.empty() || quit == nullptr || init == nullptr) return false;
  // gotoblas_dynamic_init reads OPENBLAS_CORETYPE, as at load time; the user's
  // variable (or its absence) is restored, so that child processes choose for themselves.
  const char* user = std::getenv("OPENBLAS_CORETYPE");
  const std::string saved = user == nullptr ? "" : user;
  const auto reinit = [&](const std::string& name) {
    setenv("OPENBLAS_CORETYPE", name.c_str(), 1);
    quit();
    init();
  };
  reinit(core);
  const bool switched = lowercase(openblas_core()) == lowercase(core);
  if (!switched) reinit(previous);  // OpenBLAS fell back to its own choice, not the previous one
  if (user == nullptr) {
    unsetenv("OPENBLAS_CORETYPE");
  } else {
    setenv("OPENBLAS_CORETYPE", saved.c_str(), 1);
  }
  return switched;
}

std::string aten_capability_for(const CpuVectorFeatures& cpu) { return cpu.avx512 ? "avx512" : ""; }

std::string openblas_core() {
  const auto corename = find_symbol<CorenameFn>("openblas_get_corename");
  if (corename == nullptr) return "";
  const char* name = corename();
  return name == nullptr ? "" : name;
}

std::string use_best_cpu_kernels() {
  static std::once_flag once;
  static std::string note;
  std::call_once(once, [] {
    const std::string aten_capability = choose_aten_capability();
    std::string blas;
    const std::string before = openblas_core();
    const std::string core = better_openblas_core(before, cpu_vector_features());
    const char* user = std::getenv("OPENBLAS_CORETYPE");
    if (user == nullptr && !core.empty() && use_openblas_core(core)) {
      blas = "OpenBLAS's " + openblas_core() + " kernels instead of its " + before +
             " choice (it does not know this CPU's model)";
    } else if (user != nullptr && !core.empty()) {
      // The user's choice wins, but narrower kernels than the CPU runs are worth a word.
      blas = "OpenBLAS's " + before + " kernels, as OPENBLAS_CORETYPE=" + user + " asks (this CPU also runs its " +
             core + " kernels; tandem-bench mm --candidates compares them)";
    }
    const std::string aten = aten_capability.empty() ? "" : "LibTorch's " + aten_capability + " kernels";
    if (blas.empty() && aten.empty()) return;
    note = "CPU kernels: " + blas + (blas.empty() || aten.empty() ? "" : "; ") + aten +
           " (OPENBLAS_CORETYPE and ATEN_CPU_CAPABILITY choose others)";
  });
  return note;
}

}  // namespace tandem::util
