// The workers' rendezvous: rank 0 serves a TCP store on MASTER_PORT (listening on
// MASTER_ADDR alone where it can tell that is its own address; workers started by
// --num-processes share a file store instead); every worker counts itself in and
// waits, at most the timeout, until all have. Errors name the rank, the address
// and what to check.
//
// Usage (inside src/dist only):
//   std::string listening;                       // rank 0: where its store listens
//   auto store = meet(launch, options, &listening);
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <string>

#include "tandem/dist/communicator.h"

namespace tandem::dist {

c10::intrusive_ptr<c10d::Store> meet(const LaunchInfo& launch, const CommunicatorOptions& options,
                                     std::string* listening);

/// "300 s": a timeout as the error messages show it.
std::string seconds_text(std::chrono::milliseconds timeout);

}  // namespace tandem::dist
