// Communicator: the workers of a data-parallel run, on LibTorch's c10d.
//
// Usage:
//   auto comm = tandem::dist::Communicator::connect(launch, options, device);  // or Communicator() alone
//   comm->broadcast(model->parameters());        // rank 0's weights everywhere
//   comm->all_reduce_sum(gradients);             // summed over the workers, bucketed
//   comm->barrier("the checkpoint");
//
// Rendezvous: rank 0 serves a c10d::TCPStore on MASTER_PORT and waits for the
// others to join. Collectives of CPU tensors (the checkpoint's bytes, stop
// votes, loss sums, barriers) go through a ProcessGroupGloo; collectives of
// CUDA tensors (gradients) through ProcessGroupNCCL in builds with NCCL (the
// nccl backend), else through the same Gloo group. So no CPU tensor ever
// reaches NCCL, which takes CUDA tensors only. A Communicator of one (the
// default constructor, or world size 1 with the automatic backend) does nothing
// in every call; a world of one with a named backend goes through its groups.
//
// All-reduce and broadcast pack the tensors into flat buckets of at most
// bucket_bytes, so an update costs a few collectives, not one per parameter.
//
// Failures: every collective and store wait is bounded by `timeout`. A worker
// that dies closes its connections, so the others' collective fails at once;
// each worker also beats a heartbeat counter in the store every second from a
// thread of its own, and a failed collective reads them to say which rank
// stopped. Errors are tandem::Error with the rank and what to do.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tandem/dist/launch.h"

namespace tandem::dist {

/// --distributed-backend: automatic is NCCL for CUDA devices in builds with
/// NCCL, else Gloo.
enum class Backend { automatic, gloo, nccl };
Backend parse_backend(const std::string& text);  ///< "auto", "gloo" or "nccl"; else tandem::Error
/// Whether this build has c10d's NCCL (TANDEM_WITH_NCCL).
bool nccl_available();

struct CommunicatorOptions {
  /// Longest wait for a collective, a rendezvous or another worker (--distributed-timeout). Default 300 s.
  std::chrono::milliseconds timeout{std::chrono::seconds(300)};
  /// Bytes of one all-reduce bucket. Default 25 MiB.
  int64_t bucket_bytes = int64_t{25} << 20;
  /// The network interfaces of Gloo's connections (--distributed-interface;
  /// comma-separated). Empty: GLOO_SOCKET_IFNAME's, else the interface whose
  /// address routes to MASTER_ADDR (gloo_address()).
  std::string interface;
  /// The group of the device's tensors (--distributed-backend).
  Backend backend = Backend::automatic;
};

/// The local IPv4 address this machine sends from to reach `host` (a name or
/// an address): the interface the routing table picks; "127.0.0.1" for a
/// loopback host. Throws tandem::Error naming `host` when it does not resolve
/// or no route leads there.
std::string local_address_towards(const std::string& host);

// The collectives are virtual so that a test can stand in for the workers
// (tests/train/rank_protocol_test.cpp records every rank's calls).
class Communicator {
 public:
  /// A communicator of one: rank 0 of 1.
  Communicator();
  virtual ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  /// Joins the workers `launch` names (a communicator of one when it names one).
  static std::unique_ptr<Communicator> connect(const LaunchInfo& launch, const CommunicatorOptions& options,
                                               torch::Device device);

  int64_t rank() const { return launch_.rank; }
  int64_t size() const { return launch_.world_size; }
  bool distributed() const { return launch_.world_size > 1; }
  /// Whether collectives go through process groups (several workers, or a named backend).
  virtual bool connected() const { return impl_ != nullptr; }
  /// "gloo", "nccl for CUDA tensors, gloo for CPU values"; empty when not connected.
  virtual std::string backend() const;
  /// Rank 0 of several machines: where its rendezvous store listens ("10.0.0.1:29500", or
  /// every interface and why); other ranks and single-machine runs: empty.
  std::string store_listening() const;
  const LaunchInfo& launch() const { return launch_; }

  /// Rank 0's tensors into every worker's, in place (same shapes everywhere).
  virtual void broadcast(const std::vector<torch::Tensor>& tensors, const std::string& what);
  /// Rank 0's bytes into every worker's `bytes`.
  virtual void broadcast_bytes(std::string& bytes, const std::string& what);
  /// The sum over the workers, in place; tensors of one dtype and device.
  virtual void all_reduce_sum(const std::vector<torch::Tensor>& tensors, const std::string& what);
  /// Starts summing `flat` (one tensor, in place) over the workers and returns
  /// at once; finish_sum(handle) waits for it. Every worker must start its sums
  /// in the same order. For overlapping the gradients' sum with the backward pass.
  virtual int64_t start_sum(const torch::Tensor& flat, const std::string& what);
  virtual void finish_sum(int64_t handle);
  /// Every worker's `value`, in rank order (through the store).
  virtual std::vector<std::string> all_gather(const std::string& key, const std::string& value);
  virtual void barrier(const std::string& what);
  /// Rank 0 sets `key`; the others wait for it as long as rank 0 is alive (no
  /// time limit while its heartbeat goes on), e.g. while it validates.
  virtual void publish(const std::string& key, const std::string& value);
  virtual std::string await(const std::string& key, const std::string& what);

  /// Collectives so far, for the log.
  int64_t collectives() const { return collectives_; }

 protected:
  /// Rank `launch.rank` of `launch.world_size` with no process groups: for a
  /// stand-in that overrides every collective.
  explicit Communicator(const LaunchInfo& launch);

 private:
  struct Impl;
  explicit Communicator(const LaunchInfo& launch, std::unique_ptr<Impl> impl);
  [[noreturn]] void fail(const std::string& what, const std::string& cause);

  LaunchInfo launch_;
  std::unique_ptr<Impl> impl_;
  int64_t collectives_ = 0;
};

}  // namespace tandem::dist
