// The CPU kernels Tandem's products and element-wise operations run on.
//
// Two libraries pick their kernels from what they know of the CPU, and on a CPU
// newer than them they pick badly:
// - OpenBLAS (Debian's libopenblas0-openmp, a DYNAMIC_ARCH build) chooses when it
//   loads, from the CPU's family and model numbers. On a model it does not know it
//   falls back to the generic "Prescott" kernels (SSE3): Debian 12's OpenBLAS
//   0.3.21 does not know Intel's Emerald Rapids (family 6, model 207), and there
//   float32 products ran 5x slower than with its AVX-512 "SkylakeX" kernels
//   (`tandem-bench mm`, 1 thread: 32 against 159 GFLOP/s). On AMD's Zen 5 (family
//   26) it picks its AVX-512 "Cooperlake" kernels by itself; an environment's
//   OPENBLAS_CORETYPE=Haswell (this project's machines set it) halves the rate:
//   106 against 202 GFLOP/s (1 thread, 2048^3, `tandem-bench mm --candidates`).
// - LibTorch 1.13 (Debian's build carries AVX2 and AVX-512 variants of its
//   element-wise kernels) ran its AVX2 variants on the same CPU; with
//   ATEN_CPU_CAPABILITY=avx512 training was 6% faster, translations identical.
// use_best_cpu_kernels() re-initialises OpenBLAS with its AVX-512 kernels on a
// CPU with AVX-512 where it chose narrower ones, and with Haswell's where it fell
// back to Prescott on an AVX2 CPU, and sets ATEN_CPU_CAPABILITY=avx512 on CPUs
// with AVX-512 (LibTorch reads it at its first element-wise operation). A user's
// OPENBLAS_CORETYPE or ATEN_CPU_CAPABILITY is never overridden, and another BLAS
// is left alone.
//
// Nothing happens until it is called: linking the library changes no choice (a
// program that embeds Tandem and runs BLAS in other threads is not disturbed).
// Tandem's programs call it first thing in main (cli::run_torch_program), and
// util::set_torch_threads calls it too. A program embedding the library that
// wants the same kernels calls it at its start, before any thread multiplies
// matrices and before its first tensor operation.
#pragma once

#include <string>
#include <vector>

namespace tandem::util {

/// What the CPU runs, as far as the kernel choice goes.
struct CpuVectorFeatures {
  bool avx2_fma = false;  ///< AVX2 and FMA (OpenBLAS's Haswell kernels)
  bool avx512 = false;    ///< AVX-512 F, CD, BW, DQ and VL (its SkylakeX kernels, LibTorch's avx512)
  bool avx512_bf16 = false;  ///< and AVX512-BF16 (its Cooperlake kernels)
  bool vnni = false;         ///< AVX512-VNNI or AVX-VNNI: int8 pairs of products summed in 32 bits, not 16
};

/// This CPU's features (with the operating system's support for their registers).
CpuVectorFeatures cpu_vector_features();

/// The OpenBLAS core type to force, or "" to keep `current` (the name
/// openblas_get_corename() gives): SkylakeX on an AVX-512 CPU whose kernels are
/// narrower, Haswell for a Prescott fallback on an AVX2 CPU.
std::string better_openblas_core(const std::string& current, const CpuVectorFeatures& cpu);

/// The kernel family OpenBLAS uses now ("" when the BLAS is not OpenBLAS).
std::string openblas_core();

/// The OpenBLAS core types whose kernels this CPU runs and that are candidates for
/// float32 products: Haswell and Zen (AVX2 and FMA), SkylakeX (AVX-512), Cooperlake
/// (AVX-512 with BF16); empty on a CPU without AVX2. `tandem-bench mm --candidates`
/// measures each of them against the choice of better_openblas_core.
std::vector<std::string> openblas_core_candidates(const CpuVectorFeatures& cpu);

/// Re-initialises OpenBLAS with `core`'s kernels, as OPENBLAS_CORETYPE=core would at
/// load time. Returns whether OpenBLAS now runs them: false when the BLAS is not
/// OpenBLAS or this OpenBLAS lacks the core or the CPU cannot run it (OpenBLAS then
/// keeps or picks its own). Only while no other thread multiplies matrices.
bool use_openblas_core(const std::string& core);

/// The ATEN_CPU_CAPABILITY Tandem sets for a CPU ("" for LibTorch's own choice).
std::string aten_capability_for(const CpuVectorFeatures& cpu);

/// Once per process: replaces OpenBLAS's and LibTorch's choices as described above.
/// Returns a line saying which kernels run when Tandem chose them, else "".
/// Call it before any thread multiplies matrices (OpenBLAS's table is swapped,
/// not locked) and before the first tensor operation (LibTorch's choice is made then).
std::string use_best_cpu_kernels();

}  // namespace tandem::util
