// The thread count every program takes as --cpu-threads.
//
// LibTorch starts with one thread in Debian's build whatever the core count
// (ENVIRONMENT.md, trap 3), so programs resolve the option here and hand it to
// LibTorch (set_torch_threads), SentencePiece or their own workers, and print it.
#pragma once

namespace tandem::util {

/// `requested` when above 0, else the number of cores (at least 1).
int resolve_cpu_threads(int requested);

/// Sets LibTorch's (and so OpenBLAS's OpenMP) intra-op threads; returns the
/// count LibTorch reports afterwards. Defined in the tandem library (LibTorch).
int set_torch_threads(int threads);

}  // namespace tandem::util
