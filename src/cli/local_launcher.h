// Internal to tandem-train: --num-processes N starts N workers on this machine.
//
// Each worker is this program again with the same arguments and the variables
// torchrun would set (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1,
// MASTER_PORT = a free port), plus TANDEM_WORKER_THREADS, its share of the
// CPU threads. The launcher forwards SIGINT and SIGTERM to the workers (each
// in a process group of its own, so a terminal's Ctrl-C reaches them once),
// waits for all, and returns the first failure's exit status. Workers die
// with the launcher (PR_SET_PDEATHSIG).
#pragma once

#include <chrono>

namespace tandem::cli {

/// Runs `processes` workers of argv; returns the exit status for the shell.
/// `grace`: how long the others may take to stop after one failed.
int run_local_workers(int argc, char** argv, int processes, int threads_each, std::chrono::seconds grace);

}  // namespace tandem::cli
