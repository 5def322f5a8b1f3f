#include "tandem/dist/communicator.h"

#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/torch.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <future>
#include <sstream>
#include <map>
#include <mutex>
#include <thread>

#include "dist/gloo_device.h"
#include "dist/rendezvous.h"
#include "tandem/error.h"

namespace tandem::dist {
namespace {

using Millis = std::chrono::milliseconds;
constexpr auto kHeartbeat = std::chrono::seconds(1);

std::vector<uint8_t> to_bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string from_bytes(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

std::string heartbeat_key(int64_t rank) { return "tandem/heartbeat/" + std::to_string(rank); }

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

}  // namespace

struct Communicator::Impl {
  CommunicatorOptions options;
  c10::intrusive_ptr<c10d::Store> store;
  // CPU tensors (the checkpoint's bytes, votes, loss sums, barriers) go through
  // host_group, which is always Gloo; tensors on a CUDA device through
  // device_group (NCCL, or the same Gloo group when the backend is Gloo).
  c10::intrusive_ptr<c10d::ProcessGroup> host_group;
  c10::intrusive_ptr<c10d::ProcessGroup> device_group;
  std::string backend_name = "gloo";
  std::string store_listening;  // rank 0's TCP store: where it listens
  // Sums started and not yet finished (start_sum), by handle.
  struct Pending {
    c10::intrusive_ptr<c10d::Work> work;
    std::vector<torch::Tensor> tensors;
    std::string what;
  };
  std::map<int64_t, Pending> pending;
  int64_t next_handle = 0;
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

  const c10::intrusive_ptr<c10d::ProcessGroup>& group_for(const torch::Tensor& tensor) const {
    return tensor.is_cuda() ? device_group : host_group;
  }

  void start_heartbeat(const LaunchInfo& launch) {
    heartbeat = std::thread([this, launch] {
      try {
        // A TCP store's client of its own; a file store's calls never wait on each other.
        c10::intrusive_ptr<c10d::Store> beat = store;
        if (launch.store_file.empty()) {
          c10d::TCPStoreOptions o;
          o.port = static_cast<uint16_t>(launch.master_port);
          o.isServer = false;
          o.waitWorkers = false;
          o.timeout = options.timeout;
          beat = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, o);
        }
        std::unique_lock<std::mutex> lock(mutex);
        while (!stopping) {
          lock.unlock();
          beat->add(heartbeat_key(launch.rank), 1);
          lock.lock();
          wake.wait_for(lock, kHeartbeat, [this] { return stopping; });
        }
      } catch (const std::exception&) {
        // The store is gone (rank 0 stopped): the main thread finds out at its next collective.
      }
    });
  }
};

Backend parse_backend(const std::string& text) {
  if (text == "auto") return Backend::automatic;
  if (text == "gloo") return Backend::gloo;
  if (text == "nccl") return Backend::nccl;
  throw Error("--distributed-backend must be auto, gloo or nccl, got '" + text + "'");
}

bool nccl_available() {
#if defined(USE_C10D_NCCL)
  return true;
#else
  return false;
#endif
}

Communicator::Communicator() = default;
Communicator::~Communicator() = default;
Communicator::Communicator(const LaunchInfo& launch) : launch_(launch) {}

Communicator::Communicator(const LaunchInfo& launch, std::unique_ptr<Impl> impl)
    : launch_(launch), impl_(std::move(impl)) {}

namespace {

// A Gloo group; its connections are made in a thread of their own, waited for
// at most the timeout: a peer that never answers must not hold this worker for ever.
c10::intrusive_ptr<c10d::ProcessGroup> gloo_group(const c10::intrusive_ptr<c10d::Store>& store, const LaunchInfo& launch,
                                                  const CommunicatorOptions& options, std::string* device_source) {
  auto gloo = c10d::ProcessGroupGloo::Options::create(options.timeout);
  gloo->devices = launch.distributed() ? gloo_devices(launch.master_addr, options.interface, device_source)
                                       : std::vector{c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")};
  gloo->threads = 2;
  auto connecting = std::make_shared<std::packaged_task<c10::intrusive_ptr<c10d::ProcessGroup>()>>(
      [store, gloo, rank = launch.rank, world = launch.world_size]() -> c10::intrusive_ptr<c10d::ProcessGroup> {
        return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, gloo);
      });
  auto connected = connecting->get_future();
  std::thread([connecting] { (*connecting)(); }).detach();
  if (connected.wait_for(options.timeout + std::chrono::seconds(5)) != std::future_status::ready) {
    throw std::runtime_error("no connection within " + seconds_text(options.timeout) + " (--distributed-timeout)");
  }
  return connected.get();
}

}  // namespace

std::unique_ptr<Communicator> Communicator::connect(const LaunchInfo& launch, const CommunicatorOptions& options,
                                                    torch::Device device) {
  // A single process needs no groups, unless a backend was named: then a world
  // of one goes through them (NCCL accepts one rank), which proves on one GPU
  // that no CPU tensor reaches NCCL.
  if (!launch.distributed() && options.backend == Backend::automatic) return std::make_unique<Communicator>();
  if (options.timeout.count() <= 0) throw Error("--distributed-timeout must be above 0 seconds");
  const bool use_nccl = options.backend == Backend::nccl || (options.backend == Backend::automatic && device.is_cuda() && nccl_available());
  if (use_nccl && !device.is_cuda()) {
    throw Error("--distributed-backend nccl reduces CUDA tensors, and this run trains on " + device.str() +
                "; choose --device cuda or --distributed-backend gloo");
  }
  if (use_nccl && !nccl_available()) {
    throw Error("--distributed-backend nccl: this build of Tandem has no NCCL (build it with a CUDA LibTorch and "
                "-DTANDEM_WITH_NCCL=ON: bench/build_cuda.sh), or use --distributed-backend gloo");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->store = launch.distributed() ? meet(launch, options, &impl->store_listening)
                                     : c10::intrusive_ptr<c10d::Store>(c10::make_intrusive<c10d::HashStore>());
  const std::string where = launch.master_addr + ":" + std::to_string(launch.master_port);
  std::string device_source = "the address 127.0.0.1";
  try {
    impl->host_group = gloo_group(c10::make_intrusive<c10d::PrefixStore>("tandem/gloo", impl->store), launch, options,
                                  &device_source);
    impl->device_group = impl->host_group;
    if (use_nccl) {
#if defined(USE_C10D_NCCL)
      auto nccl = c10d::ProcessGroupNCCL::Options::create();
      nccl->timeout = options.timeout;
      impl->device_group = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          c10::make_intrusive<c10d::PrefixStore>("tandem/nccl", impl->store), launch.rank, launch.world_size, nccl);
      impl->backend_name = "nccl for CUDA tensors, gloo for CPU values";
#endif
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
  if (launch.distributed()) impl->start_heartbeat(launch);
  auto comm = std::unique_ptr<Communicator>(new Communicator(launch, std::move(impl)));
  comm->barrier("the start");
  return comm;
}

std::string Communicator::backend() const { return impl_ == nullptr ? "" : impl_->backend_name; }
std::string Communicator::store_listening() const { return impl_ == nullptr ? "" : impl_->store_listening; }

void Communicator::fail(const std::string& what, const std::string& cause) {
  const std::string first_line = cause.substr(0, cause.find('\n'));
  if (size() == 1) throw Error(what + " failed (" + first_line + ")");
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
  if (!connected() || tensors.empty()) return;
  try {
    for (const auto& [begin, end] : buckets(tensors, impl_->options.bucket_bytes)) {
      std::vector<torch::Tensor> flat_parts;
      for (size_t i = begin; i < end; ++i) flat_parts.push_back(tensors[i].detach().reshape({-1}));
      std::vector<torch::Tensor> flat{torch::cat(flat_parts)};
      c10d::BroadcastOptions options;
      options.rootRank = 0;
      options.timeout = impl_->options.timeout;
      impl_->group_for(flat[0])->broadcast(flat, options)->wait();
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
  if (!connected()) return;
  auto length = torch::tensor({static_cast<int64_t>(bytes.size())}, torch::kInt64);
  broadcast({length}, what);
  const int64_t n = length.item<int64_t>();
  auto data = torch::zeros({n}, torch::kUInt8);
  if (rank() == 0 && n > 0) std::memcpy(data.data_ptr<uint8_t>(), bytes.data(), static_cast<size_t>(n));
  broadcast({data}, what);
  bytes.assign(reinterpret_cast<const char*>(data.data_ptr<uint8_t>()), static_cast<size_t>(n));
}

void Communicator::all_reduce_sum(const std::vector<torch::Tensor>& tensors, const std::string& what) {
  if (!connected() || tensors.empty()) return;
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
      works.push_back(impl_->group_for(flats[b][0])->allreduce(flats[b], options));
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

int64_t Communicator::start_sum(const torch::Tensor& flat, const std::string& what) {
  if (!connected()) return -1;
  Impl::Pending p;
  p.tensors = {flat};
  p.what = what;
  try {
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;
    options.timeout = impl_->options.timeout;
    p.work = impl_->group_for(flat)->allreduce(p.tensors, options);
    ++collectives_;
  } catch (const std::exception& e) {
    fail(what, e.what());
  }
  const int64_t handle = impl_->next_handle++;
  impl_->pending.emplace(handle, std::move(p));
  return handle;
}

void Communicator::finish_sum(int64_t handle) {
  if (!connected()) return;
  const auto it = impl_->pending.find(handle);
  if (it == impl_->pending.end()) throw Error("finish_sum: no sum was started as " + std::to_string(handle));
  Impl::Pending p = std::move(it->second);
  impl_->pending.erase(it);
  try {
    p.work->wait();
  } catch (const std::exception& e) {
    fail(p.what, e.what());
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
  if (!connected()) return;
  try {
    c10d::BarrierOptions options;
    options.timeout = impl_->options.timeout;
    impl_->host_group->barrier(options)->wait();
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
