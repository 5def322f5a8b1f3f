// Gloo's network devices for a worker: which interfaces its connections use.
//
// Usage (inside src/dist only; needs c10d's Gloo definitions, see CMakeLists.txt):
//   std::string source;
//   options->devices = gloo_devices(launch.master_addr, interface_option, &source);
//
// Chosen in this order: --distributed-interface (comma-separated names), else
// PyTorch's GLOO_SOCKET_IFNAME, else the address of the interface that routes
// to MASTER_ADDR (never the host name's address, which Debian and Ubuntu map to
// loopback). `source` says which, for error messages.
#pragma once

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <memory>
#include <string>
#include <vector>

namespace tandem::dist {

std::vector<std::shared_ptr<::gloo::transport::Device>> gloo_devices(const std::string& master_addr,
                                                                     const std::string& interface_option,
                                                                     std::string* source);

}  // namespace tandem::dist
