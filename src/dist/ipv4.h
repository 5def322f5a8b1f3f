// IPv4 look-ups shared by the store's listen address (store_address.cpp) and
// Gloo's choice of interface (gloo_device.cpp): both start from MASTER_ADDR.
//
// Usage:
//   std::string error;
//   if (const auto address = resolve_ipv4(master_addr, &error)) {
//     if (is_loopback(*address)) ...;
//     std::cout << ipv4_text(*address);
//   }
#pragma once

#include <netinet/in.h>

#include <optional>
#include <string>

namespace tandem::dist {

/// The first IPv4 address `host` (a name or a dotted address) resolves to; none,
/// with getaddrinfo's reason in `error` when given, when it does not resolve.
std::optional<in_addr> resolve_ipv4(const std::string& host, std::string* error = nullptr);

/// Whether `address` is in 127.0.0.0/8.
bool is_loopback(const in_addr& address);

/// Dotted text of `address`.
std::string ipv4_text(const in_addr& address);

}  // namespace tandem::dist
