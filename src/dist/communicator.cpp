#include "tandem/dist/communicator.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/torch.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <future>
#include <sstream>
#include <map>
#include <mutex>
#include <thread>

#include "tandem/error.h"

namespace tandem::dist {
namespace {

using Millis = std::chrono::milliseconds;
constexpr auto kHeartbeat = std::chrono::seconds(1);

std::vector<uint8_t> to_bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string from_bytes(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

std::string heartbeat_key(int64_t rank) { return "tandem/heartbeat/" + std::to_string(rank); }

std::string seconds_text(Millis timeout) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) + " s";
}

// The flat buckets of a list of tensors: consecutive tensors, each bucket at
// most `bucket_bytes` (a tensor larger than that is a bucket of its own).
std::vector<std::pair<size_t, size_t>> buckets(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t start = 0;
  int64_t bytes = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const int64_t size = tensors[i].numel() * static_cast<int64_t>(tensors[i].element_size());
    if (i > start && bytes + size > bucket_bytes) {
      out.emplace_back(start, i);
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  if (start < tensors.size()) out.emplace_back(start, tensors.size());
  return out;
}

// The interfaces of a comma-separated list, empty entries left out.
std::vector<std::string> split_interfaces(const std::string& list) {
  std::vector<std::string> out;
  std::istringstream in(list);
  for (std::string name; std::getline(in, name, ',');) {
    if (!name.empty()) out.push_back(name);
  }
  return out;
}

// Gloo's devices for this worker, and a phrase saying where they came from:
// --distributed-interface, else PyTorch's GLOO_SOCKET_IFNAME, else the address
// of the interface that routes to the master (never the host name's address,
// which Debian and Ubuntu map to loopback).
std::vector<std::shared_ptr<::gloo::transport::Device>> gloo_devices(const LaunchInfo& launch,
                                                                     const CommunicatorOptions& options,
                                                                     std::string* source) {
  std::vector<std::shared_ptr<::gloo::transport::Device>> devices;
  const char* env = std::getenv("GLOO_SOCKET_IFNAME");
  const std::string list = !options.interface.empty() ? options.interface : env != nullptr ? env : "";
  if (!list.empty()) {
    const std::string from = !options.interface.empty() ? "--distributed-interface" : "GLOO_SOCKET_IFNAME";
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
  const std::string address = local_address_towards(launch.master_addr);
  devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(address));
  *source = "the address " + address + " (the route to MASTER_ADDR " + launch.master_addr +
            "; GLOO_SOCKET_IFNAME or --distributed-interface choose another)";
  return devices;
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

struct Communicator::Impl {
  CommunicatorOptions options;
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  // The heartbeat: its own store client, so that it never waits behind the main thread's.
  std::thread heartbeat;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    if (heartbeat.joinable()) heartbeat.join();
  }

  void start_heartbeat(const LaunchInfo& launch) {
    heartbeat = std::thread([this, launch] {
      try {
        c10d::TCPStoreOptions o;
        o.port = static_cast<uint16_t>(launch.master_port);
        o.isServer = false;
        o.waitWorkers = false;
        o.timeout = options.timeout;
        c10d::TCPStore beat(launch.master_addr, o);
        std::unique_lock<std::mutex> lock(mutex);
        while (!stopping) {
          lock.unlock();
          beat.add(heartbeat_key(launch.rank), 1);
          lock.lock();
          wake.wait_for(lock, kHeartbeat, [this] { return stopping; });
        }
      } catch (const std::exception&) {
        // The store is gone (rank 0 stopped): the main thread finds out at its next collective.
      }
    });
  }
};

Communicator::Communicator() = default;
Communicator::~Communicator() = default;

Communicator::Communicator(const LaunchInfo& launch, std::unique_ptr<Impl> impl)
    : launch_(launch), impl_(std::move(impl)) {}

std::unique_ptr<Communicator> Communicator::connect(const LaunchInfo& launch, const CommunicatorOptions& options,
                                                    torch::Device device) {
  if (!launch.distributed()) return std::make_unique<Communicator>();
  if (options.timeout.count() <= 0) throw Error("--distributed-timeout must be above 0 seconds");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  const std::string where = launch.master_addr + ":" + std::to_string(launch.master_port);
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(launch.master_port);
  o.isServer = launch.rank == 0;
  o.waitWorkers = false;  // counted below, with a message that says who is missing
  o.timeout = options.timeout;
  try {
    impl->store = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, o);
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
  // Every worker counts itself in; all wait (bounded) until the count is full.
  try {
    int64_t joined = impl->store->add("tandem/joined", 1);
    const auto deadline = std::chrono::steady_clock::now() + options.timeout;
    while (joined < launch.world_size && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      joined = impl->store->add("tandem/joined", 0);
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
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("tandem/pg", impl->store);
  std::string device_source = "its CUDA device";
  try {
    if (device.is_cuda()) {
#if defined(USE_C10D_NCCL)
      auto nccl = c10d::ProcessGroupNCCL::Options::create();
      nccl->timeout = options.timeout;
      impl->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, launch.rank, launch.world_size, nccl);
#else
      throw Error("training on " + device.str() + " over several workers needs NCCL, and this build of Tandem has none "
                  "(build with a CUDA LibTorch: bench/build_cuda.sh)");
#endif
    } else {
      auto gloo = c10d::ProcessGroupGloo::Options::create(options.timeout);
      gloo->devices = gloo_devices(launch, options, &device_source);
      gloo->threads = 2;
      // Gloo's connections in a thread of their own, waited for at most the
      // timeout: a peer that never answers must not hold this worker for ever.
      auto connecting = std::make_shared<std::packaged_task<c10::intrusive_ptr<c10d::ProcessGroup>()>>(
          [prefixed, gloo, rank = launch.rank, world = launch.world_size]() -> c10::intrusive_ptr<c10d::ProcessGroup> {
            return c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, rank, world, gloo);
          });
      auto connected = connecting->get_future();
      std::thread([connecting] { (*connecting)(); }).detach();
      if (connected.wait_for(options.timeout + std::chrono::seconds(5)) != std::future_status::ready) {
        throw std::runtime_error("no connection within " + seconds_text(options.timeout) + " (--distributed-timeout)");
      }
      impl->group = connected.get();
    }
  } catch (const Error& e) {
    throw Error("rank " + std::to_string(launch.rank) + ": " + e.what());
  } catch (const std::exception& e) {
    const std::string cause = e.what();
    throw Error("rank " + std::to_string(launch.rank) + ": the workers met at " + where +
                " but could not connect to each other (" + cause.substr(0, cause.find('\n')) +
                "); this worker offered " + device_source + "; check that every machine can reach the others' "
                "addresses");
  }
  impl->start_heartbeat(launch);
  auto comm = std::unique_ptr<Communicator>(new Communicator(launch, std::move(impl)));
  comm->barrier("the start");
  return comm;
}

void Communicator::fail(const std::string& what, const std::string& cause) {
  const std::string first_line = cause.substr(0, cause.find('\n'));
  std::string who;
  // Which worker stopped: the one whose heartbeat stands still, or rank 0 when
  // the store it serves is gone.
  try {
    std::map<int64_t, int64_t> before;
    for (int64_t r = 0; r < size(); ++r) {
      if (r == rank()) continue;
      before[r] = impl_->store->check({heartbeat_key(r)}) ? impl_->store->add(heartbeat_key(r), 0) : 0;
    }
    std::this_thread::sleep_for(kHeartbeat * 2 + std::chrono::milliseconds(500));
    for (const auto& [r, count] : before) {
      if (impl_->store->add(heartbeat_key(r), 0) == count) who += (who.empty() ? "rank " : ", rank ") + std::to_string(r);
    }
  } catch (const std::exception&) {
    who = "rank 0 (it serves the rendezvous at " + launch_.master_addr + ":" + std::to_string(launch_.master_port) + ")";
  }
  if (who.empty()) {
    throw Error("rank " + std::to_string(rank()) + ": " + what + " failed (" + first_line +
                "); the other workers are alive: a worker may have stopped on an error of its own (see its output)");
  }
  throw Error("rank " + std::to_string(rank()) + ": " + who + " stopped (killed, crashed, or stopped on an error: see its "
              "output) during " + what + "; this worker stops too. Run the same command again to resume from the "
              "last checkpoint (" + first_line + ")");
}

void Communicator::broadcast(const std::vector<torch::Tensor>& tensors, const std::string& what) {
  if (!distributed() || tensors.empty()) return;
  try {
    for (const auto& [begin, end] : buckets(tensors, impl_->options.bucket_bytes)) {
      std::vector<torch::Tensor> flat_parts;
      for (size_t i = begin; i < end; ++i) flat_parts.push_back(tensors[i].detach().reshape({-1}));
      std::vector<torch::Tensor> flat{torch::cat(flat_parts)};
      c10d::BroadcastOptions options;
      options.rootRank = 0;
      options.timeout = impl_->options.timeout;
      impl_->group->broadcast(flat, options)->wait();
      ++collectives_;
      int64_t offset = 0;
      torch::NoGradGuard no_grad;
      for (size_t i = begin; i < end; ++i) {
        const int64_t n = tensors[i].numel();
        tensors[i].copy_(flat[0].narrow(0, offset, n).view_as(tensors[i]));
        offset += n;
      }
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(what, e.what());
  }
}

void Communicator::broadcast_bytes(std::string& bytes, const std::string& what) {
  if (!distributed()) return;
  auto length = torch::tensor({static_cast<int64_t>(bytes.size())}, torch::kInt64);
  broadcast({length}, what);
  const int64_t n = length.item<int64_t>();
  auto data = torch::zeros({n}, torch::kUInt8);
  if (rank() == 0 && n > 0) std::memcpy(data.data_ptr<uint8_t>(), bytes.data(), static_cast<size_t>(n));
  broadcast({data}, what);
  bytes.assign(reinterpret_cast<const char*>(data.data_ptr<uint8_t>()), static_cast<size_t>(n));
}

void Communicator::all_reduce_sum(const std::vector<torch::Tensor>& tensors, const std::string& what) {
  if (!distributed() || tensors.empty()) return;
  try {
    // Every bucket's collective is started before the first is waited for.
    const auto parts = buckets(tensors, impl_->options.bucket_bytes);
    std::vector<std::vector<torch::Tensor>> flats(parts.size());
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;
    options.timeout = impl_->options.timeout;
    for (size_t b = 0; b < parts.size(); ++b) {
      std::vector<torch::Tensor> pieces;
      for (size_t i = parts[b].first; i < parts[b].second; ++i) pieces.push_back(tensors[i].detach().reshape({-1}));
      flats[b] = {pieces.size() == 1 ? pieces[0].clone() : torch::cat(pieces)};
      works.push_back(impl_->group->allreduce(flats[b], options));
      ++collectives_;
    }
    torch::NoGradGuard no_grad;
    for (size_t b = 0; b < parts.size(); ++b) {
      works[b]->wait();
      int64_t offset = 0;
      for (size_t i = parts[b].first; i < parts[b].second; ++i) {
        const int64_t n = tensors[i].numel();
        tensors[i].copy_(flats[b][0].narrow(0, offset, n).view_as(tensors[i]));
        offset += n;
      }
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(what, e.what());
  }
}

std::vector<std::string> Communicator::all_gather(const std::string& key, const std::string& value) {
  if (!distributed()) return {value};
  const std::string prefix = "tandem/gather/" + key + "/";
  try {
    impl_->store->set(prefix + std::to_string(rank()), to_bytes(value));
    std::vector<std::string> values;
    for (int64_t r = 0; r < size(); ++r) {
      const std::string k = prefix + std::to_string(r);
      impl_->store->wait({k}, impl_->options.timeout);
      values.push_back(from_bytes(impl_->store->get(k)));
    }
    return values;
  } catch (const std::exception& e) {
    fail("the exchange of " + key, e.what());
  }
}

void Communicator::barrier(const std::string& what) {
  if (!distributed()) return;
  try {
    c10d::BarrierOptions options;
    options.timeout = impl_->options.timeout;
    impl_->group->barrier(options)->wait();
    ++collectives_;
  } catch (const std::exception& e) {
    fail("the wait for " + what, e.what());
  }
}

void Communicator::publish(const std::string& key, const std::string& value) {
  if (!distributed()) return;
  try {
    impl_->store->set("tandem/publish/" + key, to_bytes(value));
  } catch (const std::exception& e) {
    fail("publishing " + key, e.what());
  }
}

std::string Communicator::await(const std::string& key, const std::string& what) {
  const std::string k = "tandem/publish/" + key;
  try {
    // Short waits; between them, rank 0's heartbeat must have moved within the timeout.
    int64_t last_beat = -1;
    auto last_change = std::chrono::steady_clock::now();
    while (true) {
      if (impl_->store->check({k})) return from_bytes(impl_->store->get(k));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      const int64_t beat = impl_->store->add(heartbeat_key(0), 0);
      const auto now = std::chrono::steady_clock::now();
      if (beat != last_beat) {
        last_beat = beat;
        last_change = now;
      } else if (now - last_change > impl_->options.timeout) {
        throw Error("rank " + std::to_string(rank()) + ": rank 0 has not answered for " +
                    seconds_text(impl_->options.timeout) + " while it did " + what + " (--distributed-timeout)");
      }
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(what, e.what());
  }
}

}  // namespace tandem::dist
