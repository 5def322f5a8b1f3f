#include "dist/rendezvous.h"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <thread>

#include "dist/store_address.h"
#include "tandem/error.h"

namespace tandem::dist {
namespace {

// Every worker counts itself in; all wait (bounded) until the count is full.
void count_in(c10d::Store& store, const LaunchInfo& launch, const CommunicatorOptions& options,
              const std::string& where) {
  try {
    int64_t joined = store.add("tandem/joined", 1);
    const auto deadline = std::chrono::steady_clock::now() + options.timeout;
    while (joined < launch.world_size && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      joined = store.add("tandem/joined", 0);
    }
    if (joined < launch.world_size) {
      throw Error("rank " + std::to_string(launch.rank) + ": only " + std::to_string(joined) + " of " +
                  std::to_string(launch.world_size) + " workers joined at " + where + " within " +
                  seconds_text(options.timeout) +
                  " (--distributed-timeout); start every rank with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE, "
                  "and see the missing workers' output for their errors");
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    const std::string cause = e.what();
    throw Error("rank " + std::to_string(launch.rank) + ": the rendezvous at " + where + " failed (" +
                cause.substr(0, cause.find('\n')) + "); is rank 0 still running?");
  }
}

}  // namespace

std::string seconds_text(std::chrono::milliseconds timeout) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) + " s";
}

c10::intrusive_ptr<c10d::Store> meet(const LaunchInfo& launch, const CommunicatorOptions& options,
                                     std::string* listening) {
  const std::string where = launch.store_file.empty()
                                ? launch.master_addr + ":" + std::to_string(launch.master_port)
                                : launch.store_file;
  if (!launch.store_file.empty()) {
    // Workers of one machine (--num-processes) meet in a file: no port listens.
    c10::intrusive_ptr<c10d::Store> store;
    try {
      store = c10::make_intrusive<c10d::FileStore>(launch.store_file, static_cast<int>(launch.world_size));
      store->setTimeout(options.timeout);
    } catch (const std::exception& e) {
      const std::string cause = e.what();
      throw Error("rank " + std::to_string(launch.rank) + ": cannot open the rendezvous file " + where + " (" +
                  cause.substr(0, cause.find('\n')) + ")");
    }
    count_in(*store, launch, options, where);
    return store;
  }
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(launch.master_port);
  o.isServer = launch.rank == 0;
  o.waitWorkers = false;  // counted below, with a message that says who is missing
  o.timeout = options.timeout;
  c10::intrusive_ptr<c10d::Store> store;
  try {
    // Rank 0 listens on the master's address alone where it can tell which that is.
    const std::string address = o.isServer ? store_listen_address(launch.master_addr) : "";
    StoreListenScope scope(address);
    store = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, o);
    if (o.isServer) {
      const std::string port = std::to_string(launch.master_port);
      *listening = scope.narrowed() > 0 ? address + ":" + port
                   : address.empty()
                       ? "every interface, port " + port + " (MASTER_ADDR " + launch.master_addr +
                             " is not one of this machine's addresses here, or a name it maps to loopback; set "
                             "MASTER_ADDR to this machine's address to listen there alone)"
                       : "every interface, port " + port + " (the bind could not be narrowed to " + address + ")";
    }
  } catch (const std::exception& e) {
    const std::string cause = e.what();
    if (launch.rank == 0 && cause.find("already in use") != std::string::npos) {
      throw Error("MASTER_PORT " + std::to_string(launch.master_port) +
                  " is already in use on this machine (another run, or a worker of an earlier one still "
                  "running); choose a free port for every worker");
    }
    if (launch.rank == 0) {
      throw Error("rank 0 serves the rendezvous on " + where + ", but not all " + std::to_string(launch.world_size) +
                  " workers joined within " + seconds_text(options.timeout) +
                  " (--distributed-timeout); start every rank with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE "
                  "(" + c10::str(cause.substr(0, cause.find('\n'))) + ")");
    }
    throw Error("rank " + std::to_string(launch.rank) + " cannot reach the master at " + where + " within " +
                seconds_text(options.timeout) +
                " (--distributed-timeout); check MASTER_ADDR and MASTER_PORT and that rank 0 is running (" +
                cause.substr(0, cause.find('\n')) + ")");
  }
  count_in(*store, launch, options, where);
  return store;
}

}  // namespace tandem::dist
