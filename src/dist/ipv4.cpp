#include "dist/ipv4.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

namespace tandem::dist {

std::optional<in_addr> resolve_ipv4(const std::string& host, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int status = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (status != 0 || found == nullptr) {
    if (error != nullptr) *error = status != 0 ? ::gai_strerror(status) : "no address";
    if (found != nullptr) ::freeaddrinfo(found);
    return std::nullopt;
  }
  const in_addr address = reinterpret_cast<const sockaddr_in*>(found->ai_addr)->sin_addr;
  ::freeaddrinfo(found);
  return address;
}

bool is_loopback(const in_addr& address) { return (ntohl(address.s_addr) >> 24) == 127; }

std::string ipv4_text(const in_addr& address) {
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address, text, sizeof(text));
  return text;
}

}  // namespace tandem::dist
