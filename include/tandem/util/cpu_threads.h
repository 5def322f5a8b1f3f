// The thread count every program takes as --cpu-threads.
//
// LibTorch starts with one thread in Debian's build whatever the core count
// (ENVIRONMENT.md, trap 3), so programs resolve the option here and hand it to
// LibTorch (set_torch_threads), SentencePiece or their own workers, and print it.
// "All cores" means the cores this process may run on: its CPU affinity
// (taskset, Slurm, cpusets) and its cgroup's CPU quota (containers), not the
// machine's core count.
#pragma once

#include <string>

namespace tandem::util {

/// `requested` when above 0, else available_cpus().
int resolve_cpu_threads(int requested);

/// The CPUs this process may use: the size of its affinity mask, lowered to its
/// cgroup's CPU quota (rounded up) when one is set; at least 1.
int available_cpus();

/// The CPU quota, in whole CPUs rounded up, of the cgroup that `self_cgroup`
/// (the text of /proc/self/cgroup) names under `cgroup_root` and its ancestors
/// (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us); 0 = no quota.
int cgroup_cpu_limit(const std::string& cgroup_root, const std::string& self_cgroup);

/// Sets LibTorch's (and so OpenBLAS's OpenMP) intra-op threads; returns the
/// count LibTorch reports afterwards. The first call also chooses OpenBLAS's
/// kernels (use_best_cpu_kernels, cpu_kernels.h) and prints what it changed on
/// stderr, unless `quiet`. Defined in the tandem library (LibTorch).
int set_torch_threads(int threads, bool quiet = false);

}  // namespace tandem::util
