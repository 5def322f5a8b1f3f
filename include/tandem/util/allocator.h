// How the C library's allocator treats the large, short-lived tensors of
// training and search.
//
// glibc serves blocks above its mmap threshold with fresh mappings and hands
// freed memory at the top of the heap back to the system above its trim
// threshold. A decoder step allocates and frees tensors of several megabytes
// (attention over [N, S, H]), so by default every step pays page faults for
// memory it had a moment ago: 23% of beam-5 translation time (bench/RESULTS.md).
// keep_freed_memory() raises the trim threshold and serves every block from the
// heap (no mmap at all: glibc's threshold stops at 32 MiB, and training's
// logits and their gradients, [B x T, V], are larger), so freed blocks are reused.
#pragma once

namespace tandem::util {

/// Call once at the start of a program that runs a model (no effect where the
/// C library is not glibc).
void keep_freed_memory();

/// For a server, whose request bodies come and go: every thread allocates from
/// one arena, so that return_free_memory() can give all free memory back (glibc
/// trims the top of its main arena only, and each thread would otherwise get an
/// arena of its own). Call once before any thread starts.
void share_one_arena();

/// Gives free memory back to the system now (after a large request).
void return_free_memory();

}  // namespace tandem::util
