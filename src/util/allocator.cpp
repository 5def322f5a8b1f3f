#include "tandem/util/allocator.h"

#include <cstdlib>  // defines __GLIBC__ on glibc systems

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace tandem::util {

void keep_freed_memory() {
#if defined(__GLIBC__)
  // No block gets a mapping of its own: glibc's mmap threshold stops at 32 MiB,
  // and a batch's logits and their gradient are larger. Every block comes from
  // the heap and is reused the next step or update.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
#endif
}

void share_one_arena() {
#if defined(__GLIBC__)
  mallopt(M_ARENA_MAX, 1);
#endif
}

void return_free_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace tandem::util
