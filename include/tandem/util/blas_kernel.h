// The BLAS kernels for this CPU.
//
// OpenBLAS (Debian's libopenblas0-openmp, a DYNAMIC_ARCH build) picks its
// kernels when it loads, from the CPU's family and model numbers. A CPU newer
// than the build gets the generic "Prescott" kernels (SSE3): Debian 12's OpenBLAS
// 0.3.21 does not know Intel's Emerald Rapids (family 6, model 207), and there
// float32 products ran 5x slower than with its AVX-512 kernels (`tandem-bench mm`,
// 1 thread: 32 against 159 GFLOP/s). Programs that compute call
// use_best_blas_kernel() (through set_torch_threads) before their first product:
// when OpenBLAS fell back to Prescott on a CPU with AVX-512 or AVX2, it is
// re-initialised with the newest kernel family the CPU runs, as OPENBLAS_CORETYPE
// would have chosen it. A user's OPENBLAS_CORETYPE is never overridden, a
// kernel OpenBLAS chose itself is kept, and another BLAS is left alone.
#pragma once

#include <string>

namespace tandem::util {

/// What the CPU runs, as far as the kernel choice goes.
struct CpuVectorFeatures {
  bool avx2_fma = false;  ///< AVX2 and FMA (OpenBLAS's Haswell kernels)
  bool avx512 = false;    ///< AVX-512 F, CD, BW, DQ and VL (its SkylakeX kernels)
};

/// This CPU's features (with the operating system's support for their registers).
CpuVectorFeatures cpu_vector_features();

/// The OpenBLAS core type to force, or "" to keep `current` (the name
/// openblas_get_corename() gives): only the Prescott fallback is replaced.
std::string better_openblas_core(const std::string& current, const CpuVectorFeatures& cpu);

/// The kernel family OpenBLAS uses now ("" when the BLAS is not OpenBLAS).
std::string openblas_core();

/// Once per process: replaces OpenBLAS's Prescott fallback as described above.
/// Returns a line saying what changed, or "" when nothing did. Call it before
/// any thread multiplies matrices (OpenBLAS's table is swapped, not locked).
std::string use_best_blas_kernel();

}  // namespace tandem::util
