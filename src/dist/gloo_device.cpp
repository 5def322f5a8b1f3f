#include "dist/gloo_device.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "dist/ipv4.h"
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
  std::string why;
  const auto address = resolve_ipv4(host, &why);
  if (!address) throw Error("MASTER_ADDR " + host + " does not resolve to an IPv4 address (" + why + ")");
  if (is_loopback(*address)) return "127.0.0.1";
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(9);  // any port: nothing is sent
  target.sin_addr = *address;
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
  return ipv4_text(local.sin_addr);
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
