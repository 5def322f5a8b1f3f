#include "tandem/util/cpu_threads.h"

#include <thread>

namespace tandem::util {

int resolve_cpu_threads(int requested) {
  if (requested > 0) return requested;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(cores);
}

}  // namespace tandem::util
