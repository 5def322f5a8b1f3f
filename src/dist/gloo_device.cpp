#include "dist/gloo_device.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "tandem/dist/communicator.h"
#include "tandem/error.h"

namespace tandem::dist {
namespace {

// The interfaces of a comma-separated list, empty entries left out.
std::vector<std::string> split_interfaces(const std::string& list) {
  std::vector<std::string> out;
  std::istringstream in(list);
  for (std::string name; std::getline(in, name, ',');) {
    if (!name.empty()) out.push_back(name);
  }
  return out;
}

}  // namespace

std::string local_address_towards(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  const int status = ::getaddrinfo(host.c_str(), "9", &hints, &found);
  if (status != 0 || found == nullptr) {
    throw Error("MASTER_ADDR " + host + " does not resolve to an IPv4 address (" + ::gai_strerror(status) + ")");
  }
  sockaddr_in target{};
  std::memcpy(&target, found->ai_addr, sizeof(target));
  ::freeaddrinfo(found);
  if ((ntohl(target.sin_addr.s_addr) >> 24) == 127) return "127.0.0.1";
  // A UDP socket's connect sends nothing: it only asks the routing table which
  // local address would carry the packets.
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) throw Error(std::string("cannot open a socket to find the route to MASTER_ADDR: ") + std::strerror(errno));
  sockaddr_in local{};
  socklen_t length = sizeof(local);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof(target)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0;
  const int error = errno;
  ::close(fd);
  if (!ok) {
    throw Error("no route from this machine to MASTER_ADDR " + host + " (" + std::strerror(error) +
                "); set GLOO_SOCKET_IFNAME or --distributed-interface to the interface that reaches the other machines");
  }
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &local.sin_addr, text, sizeof(text));
  return text;
}

std::vector<std::shared_ptr<::gloo::transport::Device>> gloo_devices(const std::string& master_addr,
                                                                     const std::string& interface_option,
                                                                     std::string* source) {
  std::vector<std::shared_ptr<::gloo::transport::Device>> devices;
  const char* env = std::getenv("GLOO_SOCKET_IFNAME");
  const std::string list = !interface_option.empty() ? interface_option : env != nullptr ? env : "";
  if (!list.empty()) {
    const std::string from = !interface_option.empty() ? "--distributed-interface" : "GLOO_SOCKET_IFNAME";
    for (const auto& name : split_interfaces(list)) {
      try {
        devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
      } catch (const std::exception& e) {
        const std::string cause = e.what();
        throw Error(from + " names the network interface '" + name + "', which this machine cannot use (" +
                    cause.substr(0, cause.find('\n')) + "); `ip -brief address` lists the interfaces");
      }
    }
    if (devices.empty()) throw Error(from + " is set but names no interface");
    *source = "the interface" + std::string(devices.size() == 1 ? " " : "s ") + list + " (" + from + ")";
    return devices;
  }
  const std::string address = local_address_towards(master_addr);
  devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(address));
  *source = "the address " + address + " (the route to MASTER_ADDR " + master_addr +
            "; GLOO_SOCKET_IFNAME or --distributed-interface choose another)";
  return devices;
}

}  // namespace tandem::dist
