#include "tandem/util/cpu_kernels.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "tandem/util/cpu_threads.h"

namespace tandem::util {
namespace {

const CpuVectorFeatures kNone;
const CpuVectorFeatures kAvx2{/*avx2_fma=*/true, /*avx512=*/false};
const CpuVectorFeatures kAvx512{/*avx2_fma=*/true, /*avx512=*/true};
const CpuVectorFeatures kAvx512Bf16{/*avx2_fma=*/true, /*avx512=*/true, /*avx512_bf16=*/true};

// Linking Tandem changes no kernel choice until a program calls
// use_best_cpu_kernels(): checked in a fresh process of this test binary (the
// test re-runs itself with TANDEM_KERNELS_CHILD=1 and neither variable set), so
// that no earlier test has called it.
TEST(CpuKernelsTest, LinkingTheLibraryChangesNothingUntilItIsCalled) {
  if (std::getenv("TANDEM_KERNELS_CHILD") == nullptr) {
    const std::string command =
        "env -u ATEN_CPU_CAPABILITY -u OPENBLAS_CORETYPE TANDEM_KERNELS_CHILD=1 timeout 60 /proc/" +
        std::to_string(::getpid()) + "/exe --gtest_filter=CpuKernelsTest.LinkingTheLibraryChangesNothingUntilItIsCalled" +
        " > /dev/null 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0) << "run it alone: TANDEM_KERNELS_CHILD=1 tandem_tests --gtest_filter=" +
                                                      std::string("CpuKernelsTest.LinkingTheLibraryChangesNothingUntilItIsCalled");
    return;
  }
  // In the fresh process: before the call, nothing chosen.
  EXPECT_EQ(std::getenv("ATEN_CPU_CAPABILITY"), nullptr) << "set before main by the library";
  EXPECT_EQ(std::getenv("OPENBLAS_CORETYPE"), nullptr);
  const auto cpu = cpu_vector_features();
  const std::string own = openblas_core();  // OpenBLAS's own choice at load time
  const std::string better = better_openblas_core(own, cpu);
  // After the call, Tandem's choice.
  use_best_cpu_kernels();
  if (cpu.avx512) {
    ASSERT_NE(std::getenv("ATEN_CPU_CAPABILITY"), nullptr);
    EXPECT_STREQ(std::getenv("ATEN_CPU_CAPABILITY"), "avx512");
  }
  if (!better.empty()) {
    EXPECT_EQ(openblas_core(), better) << "OpenBLAS's own choice was " << own;
  }
}

TEST(CpuKernelsTest, OpenBlasGetsTheWidestKernelsTheCpuRunsAndOnlyThose) {
  EXPECT_EQ(better_openblas_core("Prescott", kAvx512), "SkylakeX");
  EXPECT_EQ(better_openblas_core("Prescott", kAvx2), "Haswell");
  EXPECT_EQ(better_openblas_core("Prescott", kNone), "");
  // AVX-512 CPUs that OpenBLAS 0.3.21 does not know get its AVX-512 kernels; AVX-512 kernels stay.
  EXPECT_EQ(better_openblas_core("Haswell", kAvx512), "SkylakeX");  // Debian's 0.3.21 on Zen 4 and Zen 5
  EXPECT_EQ(better_openblas_core("Zen", kAvx512), "SkylakeX");
  EXPECT_EQ(better_openblas_core("SkylakeX", kAvx512), "");
  EXPECT_EQ(better_openblas_core("SapphireRapids", kAvx512), "");
  EXPECT_EQ(better_openblas_core("Haswell", kAvx2), "");
  EXPECT_EQ(better_openblas_core("", kAvx512), "");  // not OpenBLAS
  EXPECT_EQ(aten_capability_for(kAvx512), "avx512");
  EXPECT_EQ(aten_capability_for(kAvx2), "");
}

TEST(CpuKernelsTest, TheCandidatesAreTheCoreTypesTheCpuRuns) {
  EXPECT_TRUE(openblas_core_candidates(kNone).empty());
  EXPECT_EQ(openblas_core_candidates(kAvx2), (std::vector<std::string>{"Haswell", "Zen"}));
  EXPECT_EQ(openblas_core_candidates(kAvx512), (std::vector<std::string>{"Haswell", "Zen", "SkylakeX"}));
  EXPECT_EQ(openblas_core_candidates(kAvx512Bf16),
            (std::vector<std::string>{"Haswell", "Zen", "SkylakeX", "Cooperlake"}));
  // The choice for a CPU is always among its candidates (or OpenBLAS's own).
  for (const auto& cpu : {kAvx2, kAvx512, kAvx512Bf16}) {
    for (const std::string own : {"Prescott", "Haswell", "Zen"}) {
      const std::string better = better_openblas_core(own, cpu);
      const auto candidates = openblas_core_candidates(cpu);
      if (!better.empty()) {
        EXPECT_NE(std::find(candidates.begin(), candidates.end(), better), candidates.end()) << better;
      }
    }
  }
}

// tandem-bench mm --candidates switches OpenBLAS between its kernels in one process:
// each candidate this CPU runs is taken, computes correctly, and the switch back holds;
// a core OpenBLAS lacks changes nothing; the user's variable is left as it was.
TEST(CpuKernelsTest, OpenBlasSwitchesToEachCandidateAndBack) {
  set_torch_threads(1);
  const std::string before = openblas_core();
  if (before.empty()) GTEST_SKIP() << "the BLAS is not OpenBLAS";
  const char* user = std::getenv("OPENBLAS_CORETYPE");
  const std::string user_value = user == nullptr ? "<unset>" : user;
  const auto a = torch::randn({300, 200}, torch::dtype(torch::kFloat64));
  const auto b = torch::randn({200, 100}, torch::dtype(torch::kFloat64));
  for (const auto& core : openblas_core_candidates(cpu_vector_features())) {
    ASSERT_TRUE(use_openblas_core(core)) << core;
    EXPECT_EQ(openblas_core(), core);
    const auto product = torch::mm(a.to(torch::kFloat32), b.to(torch::kFloat32));
    EXPECT_TRUE(torch::allclose(product.to(torch::kFloat64), torch::mm(a, b), 1e-4, 1e-3)) << core;
  }
  EXPECT_FALSE(use_openblas_core("NoSuchCore"));
  ASSERT_TRUE(use_openblas_core(before));
  EXPECT_FALSE(use_openblas_core("NoSuchCore"));
  EXPECT_EQ(openblas_core(), before) << "a failed switch keeps the kernels in use";
  const char* after = std::getenv("OPENBLAS_CORETYPE");
  EXPECT_EQ(after == nullptr ? "<unset>" : std::string(after), user_value);
}

TEST(CpuKernelsTest, ProgramsThatSetTheirThreadsComputeWithTheCpusKernels) {
  set_torch_threads(1);
  const auto cpu = cpu_vector_features();
  // LibTorch's element-wise kernels: the variable it reads at its first element-wise
  // operation is set by the call (LibTorch 1.13 does not export the choice itself).
  if (cpu.avx512) {
    const char* capability = std::getenv("ATEN_CPU_CAPABILITY");
    ASSERT_NE(capability, nullptr);
  }
  const std::string core = openblas_core();
  if (!core.empty() && std::getenv("OPENBLAS_CORETYPE") == nullptr && cpu.avx2_fma) {
    EXPECT_NE(core, "Prescott") << "OpenBLAS still on its generic kernels on a CPU with AVX2";
  }
  if (!core.empty() && std::getenv("OPENBLAS_CORETYPE") == nullptr && cpu.avx512) {
    EXPECT_EQ(better_openblas_core(core, cpu), "") << "OpenBLAS runs its " << core << " kernels on a CPU with AVX-512";
  }
  // The switched libraries still compute correctly (sizes past OpenBLAS's small-matrix paths).
  const auto a = torch::randn({300, 200}, torch::dtype(torch::kFloat64));
  const auto b = torch::randn({200, 100}, torch::dtype(torch::kFloat64));
  const auto product = torch::mm(a.to(torch::kFloat32), b.to(torch::kFloat32));
  EXPECT_TRUE(torch::allclose(product.to(torch::kFloat64), torch::mm(a, b), /*rtol=*/1e-4, /*atol=*/1e-3));
  EXPECT_TRUE(torch::allclose(torch::tanh(a.to(torch::kFloat32)).to(torch::kFloat64), torch::tanh(a), 1e-5, 1e-6));
  EXPECT_EQ(use_best_cpu_kernels(), use_best_cpu_kernels());  // once per process
}

}  // namespace
}  // namespace tandem::util
