#include "dist/store_address.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "dist/ipv4.h"
#include "tandem/error.h"

namespace tandem::dist {
namespace {

// The narrowing in force: one at a time (a second scope waits for the first).
std::mutex scope_mutex;
std::atomic<bool> narrowing{false};
in_addr narrow_to{};
std::atomic<int> narrowed_binds{0};

bool is_local_ipv4(const in_addr& address) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool found = false;
  for (const ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    found = reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr == address.s_addr;
  }
  ::freeifaddrs(list);
  return found;
}

using BindFunction = int (*)(int, const sockaddr*, socklen_t);

BindFunction libc_bind() {
  static const auto real = reinterpret_cast<BindFunction>(::dlsym(RTLD_NEXT, "bind"));
  return real;
}

}  // namespace

std::string store_listen_address(const std::string& master_addr) {
  in_addr literal{};
  const bool is_literal = ::inet_pton(AF_INET, master_addr.c_str(), &literal) == 1;
  const auto address = resolve_ipv4(master_addr);
  if (!address) return "";
  const bool loopback = is_loopback(*address);
  if (loopback && !is_literal) return "";  // a name this machine maps to itself, the others perhaps not
  if (!is_local_ipv4(*address) && !loopback) return "";
  return ipv4_text(*address);
}

StoreListenScope::StoreListenScope(const std::string& ipv4) {
  if (ipv4.empty()) return;
  in_addr address{};
  if (::inet_pton(AF_INET, ipv4.c_str(), &address) != 1) throw Error("not an IPv4 address: '" + ipv4 + "'");
  if (libc_bind() == nullptr) return;  // cannot pass binds on: leave them alone
  scope_mutex.lock();
  narrow_to = address;
  narrowed_binds = 0;
  narrowing = true;
  active_ = true;
}

StoreListenScope::~StoreListenScope() {
  if (!active_) return;
  narrowing = false;
  scope_mutex.unlock();
}

int StoreListenScope::narrowed() const { return active_ ? narrowed_binds.load() : 0; }

}  // namespace tandem::dist

// This program's bind(), in front of the C library's (an executable's symbols
// come first for every shared library, LibTorch's included): inside a
// StoreListenScope a bind to the wildcard address binds the scope's address.
extern "C" int bind(int fd, const sockaddr* address, socklen_t length) noexcept {
  using namespace tandem::dist;
  const BindFunction real = libc_bind();
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  if (!narrowing || address == nullptr) return real(fd, address, length);
  if (address->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in narrowed{};
    std::memcpy(&narrowed, address, sizeof(narrowed));
    if (narrowed.sin_addr.s_addr != htonl(INADDR_ANY)) return real(fd, address, length);
    narrowed.sin_addr = narrow_to;
    ++narrowed_binds;
    return real(fd, reinterpret_cast<const sockaddr*>(&narrowed), sizeof(narrowed));
  }
  if (address->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 narrowed{};
    std::memcpy(&narrowed, address, sizeof(narrowed));
    if (!IN6_IS_ADDR_UNSPECIFIED(&narrowed.sin6_addr)) return real(fd, address, length);
    // ::ffff:a.b.c.d: the IPv4 address on a dual-stack socket.
    std::memset(&narrowed.sin6_addr, 0, sizeof(narrowed.sin6_addr));
    narrowed.sin6_addr.s6_addr[10] = 0xff;
    narrowed.sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&narrowed.sin6_addr.s6_addr[12], &narrow_to, 4);
    ++narrowed_binds;
    return real(fd, reinterpret_cast<const sockaddr*>(&narrowed), sizeof(narrowed));
  }
  return real(fd, address, length);
}
