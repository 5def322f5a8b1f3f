#include "tandem/util/cpu_threads.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace tandem::util {
namespace {

namespace fs = std::filesystem;

// CPUs in this process's affinity mask; 0 when it cannot be read.
int affinity_cpus() {
  for (int cpus = 1024; cpus <= 1 << 16; cpus *= 4) {
    cpu_set_t* set = CPU_ALLOC(cpus);
    if (set == nullptr) return 0;
    const size_t size = CPU_ALLOC_SIZE(cpus);
    CPU_ZERO_S(size, set);
    if (sched_getaffinity(0, size, set) == 0) {
      const int count = CPU_COUNT_S(size, set);
      CPU_FREE(set);
      return count;
    }
    CPU_FREE(set);
    if (errno != EINVAL) return 0;  // EINVAL: the mask is larger than `cpus`
  }
  return 0;
}

// ceil(quota / period) from a folder's cgroup files; 0 when there is none or no limit.
int folder_limit(const fs::path& folder) {
  std::ifstream v2(folder / "cpu.max");
  std::string quota;
  double period = 0;
  if (v2 >> quota >> period) {
    if (quota == "max" || period <= 0) return 0;
    return static_cast<int>(std::ceil(std::stod(quota) / period));
  }
  std::ifstream v1_quota(folder / "cpu.cfs_quota_us");
  std::ifstream v1_period(folder / "cpu.cfs_period_us");
  double q = 0;
  if (v1_quota >> q && v1_period >> period && q > 0 && period > 0) return static_cast<int>(std::ceil(q / period));
  return 0;
}

}  // namespace

int cgroup_cpu_limit(const std::string& cgroup_root, const std::string& self_cgroup) {
  int limit = 0;
  const auto consider = [&](const fs::path& base, const std::string& path) {
    // The process's own cgroup and each of its ancestors up to the mount point.
    fs::path relative = fs::path(path).relative_path();
    while (true) {
      const int here = folder_limit(base / relative);
      if (here > 0) limit = limit == 0 ? here : std::min(limit, here);
      if (relative.empty()) break;
      relative = relative.parent_path();
    }
  };
  std::istringstream lines(self_cgroup);
  std::string line;
  while (std::getline(lines, line)) {  // "ID:CONTROLLERS:PATH"
    const auto first = line.find(':');
    const auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (controllers.empty()) {  // cgroup v2
      consider(cgroup_root, path);
      consider(fs::path(cgroup_root) / "unified", path);
      continue;
    }
    std::istringstream names(controllers);
    for (std::string name; std::getline(names, name, ',');) {
      if (name == "cpu") consider(fs::path(cgroup_root) / controllers, path);
    }
  }
  return limit;
}

int available_cpus() {
  int cpus = affinity_cpus();
  if (cpus <= 0) cpus = static_cast<int>(std::thread::hardware_concurrency());
  std::ifstream in("/proc/self/cgroup");
  std::stringstream text;
  text << in.rdbuf();
  const int quota = cgroup_cpu_limit("/sys/fs/cgroup", text.str());
  if (quota > 0) cpus = cpus > 0 ? std::min(cpus, quota) : quota;
  return std::max(1, cpus);
}

int resolve_cpu_threads(int requested) { return requested > 0 ? requested : available_cpus(); }

}  // namespace tandem::util
