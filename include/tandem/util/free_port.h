// A TCP port of 127.0.0.1 that nothing listens on now (the kernel's choice),
// for workers started on one machine and for tests. Another program may take
// it before the caller binds it; callers that bind later handle "in use".
//
// Usage:
//   const int port = tandem::util::free_port();
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "tandem/error.h"

namespace tandem::util {

inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(std::string("cannot open a socket to find a free port: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    ::close(fd);
    throw Error(std::string("cannot find a free port on 127.0.0.1: ") + std::strerror(error));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace tandem::util
