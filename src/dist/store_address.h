// Where rank 0's TCP store listens: on the master's address, not on every
// interface. LibTorch 1.13's TCPStore takes no listen address (it binds the
// wildcard address), so tandem-train narrows the store's bind() while the store
// is made: a StoreListenScope makes this process's wildcard binds, and only
// those, bind the given IPv4 address instead (on an IPv6 dual-stack socket, its
// v4-mapped form). Nothing else changes: the port, the socket's options, binds
// to a named address and every bind outside the scope pass through as they are.
//
// Usage (rank 0, around the store's construction):
//   const std::string address = store_listen_address(launch.master_addr);
//   StoreListenScope scope(address);       // "" : every interface, as before
//   auto store = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, options);
#pragma once

#include <string>

namespace tandem::dist {

/// The IPv4 address rank 0's store should listen on for `master_addr` (MASTER_ADDR):
/// the address it resolves to on this machine when that is one of this machine's
/// own (loopback included when MASTER_ADDR is written as a loopback address);
/// "" when it cannot be told (a host name that resolves to loopback here, as
/// Debian maps its own name, while the other machines resolve it to the real
/// address; or an address that is not this machine's): then every interface.
std::string store_listen_address(const std::string& master_addr);

class StoreListenScope {
 public:
  explicit StoreListenScope(const std::string& ipv4);  ///< "" : no change
  ~StoreListenScope();
  StoreListenScope(const StoreListenScope&) = delete;
  StoreListenScope& operator=(const StoreListenScope&) = delete;

  /// Wildcard binds narrowed within this scope so far (for the log line and tests).
  int narrowed() const;

 private:
  bool active_ = false;
};

}  // namespace tandem::dist
