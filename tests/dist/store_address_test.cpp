// Rank 0's rendezvous store listens on the master's address: which address that
// is, and the narrowing of LibTorch's wildcard bind to it.
#include "dist/store_address.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "tandem/util/free_port.h"

namespace tandem::dist {
namespace {

// The first IPv4 address of this machine that is not loopback; "" when it has none.
std::string own_address() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string found;
  for (const ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    const auto a = reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr;
    if ((ntohl(a.s_addr) >> 24) == 127) continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &a, text, sizeof(text));
    found = text;
  }
  ::freeifaddrs(list);
  return found;
}

// Binds a fresh TCP socket of `family` to the wildcard address and says where it is bound.
std::string bound_wildcard(int family) {
  const int fd = ::socket(family, SOCK_STREAM, 0);
  if (fd < 0) return "no socket";
  sockaddr_storage any{};
  socklen_t length = 0;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&any);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    length = sizeof(sockaddr_in);
  } else {
    const int off = 0;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));  // dual stack, as LibTorch's store
    auto* a = reinterpret_cast<sockaddr_in6*>(&any);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_any;
    length = sizeof(sockaddr_in6);
  }
  std::string where = "bind failed";
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&any), length) == 0) {
    sockaddr_storage local{};
    socklen_t size = sizeof(local);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size);
    char text[INET6_ADDRSTRLEN] = {};
    if (local.ss_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&local)->sin_addr, text, sizeof(text));
    } else {
      ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr, text, sizeof(text));
    }
    where = text;
  }
  ::close(fd);
  return where;
}

TEST(StoreAddressTest, TheMastersAddressWhenItIsThisMachinesElseEveryInterface) {
  EXPECT_EQ(store_listen_address("127.0.0.1"), "127.0.0.1");  // written as loopback: every worker is here
  EXPECT_EQ(store_listen_address("localhost"), "");           // a name mapped to loopback: cannot tell
  EXPECT_EQ(store_listen_address("192.0.2.1"), "");           // TEST-NET-1: not this machine's
  EXPECT_EQ(store_listen_address("no-such-host.invalid"), "");
  const std::string own = own_address();
  if (!own.empty()) {
    EXPECT_EQ(store_listen_address(own), own);
  }
}

TEST(StoreAddressTest, AScopeNarrowsWildcardBindsAndOnlyThose) {
  EXPECT_EQ(bound_wildcard(AF_INET), "0.0.0.0");
  {
    StoreListenScope scope("127.0.0.1");
    EXPECT_EQ(bound_wildcard(AF_INET), "127.0.0.1");
    EXPECT_EQ(bound_wildcard(AF_INET6), "::ffff:127.0.0.1");
    EXPECT_EQ(scope.narrowed(), 2);
  }
  EXPECT_EQ(bound_wildcard(AF_INET), "0.0.0.0");
  EXPECT_EQ(bound_wildcard(AF_INET6), "::");
  StoreListenScope none("");
  EXPECT_EQ(none.narrowed(), 0);
  EXPECT_EQ(bound_wildcard(AF_INET), "0.0.0.0");
}

// LibTorch's own TCP store, made inside a scope, listens on the scope's address
// (`ss` shows what the kernel has), and a client still reaches it there.
TEST(StoreAddressTest, LibTorchsStoreListensOnTheScopesAddress) {
  const int port = util::free_port();
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(port);
  o.isServer = true;
  o.waitWorkers = false;
  o.timeout = std::chrono::seconds(10);
  c10::intrusive_ptr<c10d::TCPStore> store;
  {
    StoreListenScope scope("127.0.0.1");
    store = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", o);
    EXPECT_GE(scope.narrowed(), 1);
  }
  std::string listening;
  {
    const std::string command = "ss -ltnH 'sport = :" + std::to_string(port) + "'";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
    ASSERT_NE(pipe, nullptr);
    char buffer[512];
    while (std::fgets(buffer, sizeof(buffer), pipe.get()) != nullptr) listening += buffer;
  }
  ASSERT_FALSE(listening.empty()) << "ss (iproute2) shows nothing on port " << port;
  // 127.0.0.1:PORT, or [::ffff:127.0.0.1]:PORT on the dual-stack socket LibTorch makes.
  const bool on_loopback = listening.find(" 127.0.0.1:" + std::to_string(port)) != std::string::npos ||
                           listening.find("[::ffff:127.0.0.1]:" + std::to_string(port)) != std::string::npos;
  EXPECT_TRUE(on_loopback) << listening;
  EXPECT_EQ(listening.find(" *:" + std::to_string(port)), std::string::npos) << listening;
  EXPECT_EQ(listening.find("[::]:" + std::to_string(port)), std::string::npos) << listening;
  EXPECT_EQ(listening.find("0.0.0.0:" + std::to_string(port)), std::string::npos) << listening;
  o.isServer = false;
  c10d::TCPStore client("127.0.0.1", o);
  client.set("key", std::vector<uint8_t>{1, 2, 3});
  EXPECT_EQ(store->get("key"), (std::vector<uint8_t>{1, 2, 3}));
}

}  // namespace
}  // namespace tandem::dist
