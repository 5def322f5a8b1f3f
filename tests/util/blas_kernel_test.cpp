#include "tandem/util/blas_kernel.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tandem/util/cpu_threads.h"

namespace tandem::util {
namespace {

TEST(BlasKernelTest, OnlyThePrescottFallbackIsReplacedAndOnlyByWhatTheCpuRuns) {
  const CpuVectorFeatures none;
  const CpuVectorFeatures avx2{/*avx2_fma=*/true, /*avx512=*/false};
  const CpuVectorFeatures avx512{/*avx2_fma=*/true, /*avx512=*/true};
  EXPECT_EQ(better_openblas_core("Prescott", avx512), "SkylakeX");
  EXPECT_EQ(better_openblas_core("Prescott", avx2), "Haswell");
  EXPECT_EQ(better_openblas_core("Prescott", none), "");
  // A kernel OpenBLAS chose itself stays, even where a wider one would run.
  EXPECT_EQ(better_openblas_core("Haswell", avx512), "");
  EXPECT_EQ(better_openblas_core("Zen", avx512), "");
  EXPECT_EQ(better_openblas_core("", avx512), "");  // not OpenBLAS
}

TEST(BlasKernelTest, ProgramsThatSetTheirThreadsMultiplyWithTheCpusKernels) {
  set_torch_threads(1);
  const std::string core = openblas_core();
  if (core.empty()) GTEST_SKIP() << "the BLAS LibTorch calls is not OpenBLAS";
  const auto cpu = cpu_vector_features();
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr && (cpu.avx2_fma || cpu.avx512)) {
    EXPECT_NE(core, "Prescott") << "OpenBLAS still on its generic kernels on a CPU with AVX2";
  }
  // The switched library still multiplies correctly (sizes past its small-matrix paths).
  const auto a = torch::randn({300, 200}, torch::dtype(torch::kFloat64));
  const auto b = torch::randn({200, 100}, torch::dtype(torch::kFloat64));
  const auto expected = torch::mm(a, b);
  const auto product = torch::mm(a.to(torch::kFloat32), b.to(torch::kFloat32));
  EXPECT_TRUE(torch::allclose(product.to(torch::kFloat64), expected, /*rtol=*/1e-4, /*atol=*/1e-3));
  EXPECT_EQ(use_best_blas_kernel(), use_best_blas_kernel());  // once per process
}

}  // namespace
}  // namespace tandem::util
