// The order of the workers' collectives (src/train/rank_protocol.h), checked
// against a fake communicator: the workers of a run are threads of this
// process, each with a FakeCommunicator that records its calls and meets the
// others at every collective. Ranks that issue different collectives fail at
// once with both calls named (real workers would wait until the timeout).
#include "train/rank_protocol.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tandem/error.h"
#include "tandem/train/trainer.h"
#include "test_support.h"
#include "train/copy_task.h"

namespace tandem::train {
namespace {

using namespace std::chrono_literals;

// The meeting place of `size` workers. Every collective is a meeting: each rank
// brings its call; when all are there the calls must match, and the last to
// arrive combines what they brought (sums, gathers, rank 0's bytes).
class FakeWorld {
 public:
  explicit FakeWorld(int64_t size) : size_(size), arrived_(static_cast<size_t>(size)), log_(static_cast<size_t>(size)) {}

  struct Call {
    explicit Call(std::string what, std::vector<torch::Tensor> values = {}, bool add = false)
        : signature(std::move(what)), tensors(std::move(values)), sum(add) {}
    std::string signature;                  // what must match on every rank
    std::vector<torch::Tensor> tensors;     // summed (all_reduce, start_sum) or rank 0's copied (broadcast)
    bool sum = false;
    std::string* bytes = nullptr;           // rank 0's into the others' (broadcast_bytes, publish/await)
    std::string value;                      // gathered (all_gather) or published
    std::vector<std::string>* gathered = nullptr;
  };

  int64_t size() const { return size_; }

  void record(int64_t rank, const std::string& call) {
    std::lock_guard<std::mutex> lock(mutex_);
    log_[static_cast<size_t>(rank)].push_back(call);
  }

  std::vector<std::string> log(int64_t rank) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_[static_cast<size_t>(rank)];
  }

  // A rank whose thread ended (returned or threw): the others stop waiting for it.
  void leave(int64_t rank) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (left_.empty()) left_ = "rank " + std::to_string(rank) + " left the run";
    changed_.notify_all();
  }

  void meet(int64_t rank, Call& call) {
    std::unique_lock<std::mutex> lock(mutex_);
    log_[static_cast<size_t>(rank)].push_back(call.signature);
    if (!failure_.empty()) throw Error(failure_);
    arrived_[static_cast<size_t>(rank)] = &call;
    const int64_t generation = generation_;
    if (++count_ == size_) {
      combine();
      count_ = 0;
      ++generation_;
      changed_.notify_all();
      if (!failure_.empty()) throw Error(failure_);
      return;
    }
    const bool met = changed_.wait_for(lock, 20s, [&] { return generation_ != generation || !failure_.empty() || !left_.empty(); });
    if (!failure_.empty()) throw Error(failure_);
    if (generation_ != generation) return;
    failure_ = "rank " + std::to_string(rank) + " waits at '" + call.signature + "' " +
               (met ? "but " + left_ : "for 20 s: another rank never came");
    changed_.notify_all();
    throw Error(failure_);
  }

 private:
  void combine() {
    const Call& first = *arrived_[0];
    for (int64_t r = 1; r < size_; ++r) {
      const Call& other = *arrived_[static_cast<size_t>(r)];
      if (other.signature != first.signature) {
        failure_ = "rank 0 issued '" + first.signature + "' while rank " + std::to_string(r) + " issued '" +
                   other.signature + "'";
        return;
      }
    }
    if (first.sum) {
      for (size_t i = 0; i < first.tensors.size(); ++i) {
        auto total = torch::zeros_like(first.tensors[i]);
        for (const Call* c : arrived_) total += c->tensors[i];
        for (const Call* c : arrived_) c->tensors[i].copy_(total);
      }
    } else {
      for (const Call* c : arrived_) {
        for (size_t i = 0; i < c->tensors.size(); ++i) c->tensors[i].copy_(first.tensors[i]);
      }
    }
    for (const Call* c : arrived_) {
      if (c->bytes != nullptr && first.bytes != nullptr && c != &first) *c->bytes = *first.bytes;
      if (c->gathered != nullptr) {
        c->gathered->clear();
        for (const Call* each : arrived_) c->gathered->push_back(each->value);
      }
    }
  }

  const int64_t size_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Call*> arrived_;
  int64_t count_ = 0;
  int64_t generation_ = 0;
  std::string failure_;
  std::string left_;
  std::vector<std::vector<std::string>> log_;
};

std::string shape_text(const std::vector<torch::Tensor>& tensors) {
  int64_t elements = 0;
  for (const auto& t : tensors) elements += t.numel();
  return std::to_string(tensors.size()) + " tensor(s), " + std::to_string(elements) + " values";
}

dist::LaunchInfo launch_of(int64_t rank, int64_t size) {
  dist::LaunchInfo launch;
  launch.rank = rank;
  launch.world_size = size;
  launch.launcher = "fake";
  return launch;
}

// One worker's stand-in: every collective a meeting in the world, recorded.
class FakeCommunicator : public dist::Communicator {
 public:
  FakeCommunicator(FakeWorld& world, int64_t rank) : Communicator(launch_of(rank, world.size())), world_(world) {}

  bool connected() const override { return true; }
  std::string backend() const override { return "fake"; }

  void broadcast(const std::vector<torch::Tensor>& tensors, const std::string& what) override {
    FakeWorld::Call call{"broadcast(" + what + ", " + shape_text(tensors) + ")", tensors};
    world_.meet(rank(), call);
  }
  void broadcast_bytes(std::string& bytes, const std::string& what) override {
    FakeWorld::Call call{"broadcast_bytes(" + what + ")"};
    call.bytes = &bytes;
    world_.meet(rank(), call);
  }
  void all_reduce_sum(const std::vector<torch::Tensor>& tensors, const std::string& what) override {
    FakeWorld::Call call{"all_reduce_sum(" + what + ", " + shape_text(tensors) + ")", tensors, true};
    world_.meet(rank(), call);
  }
  int64_t start_sum(const torch::Tensor& flat, const std::string& what) override {
    FakeWorld::Call call{"start_sum(" + what + ", " + shape_text({flat}) + ")", {flat}, true};
    world_.meet(rank(), call);  // the sum is done here; finish_sum has nothing left to wait for
    return ++handles_;
  }
  void finish_sum(int64_t handle) override { world_.record(rank(), "finish_sum(" + std::to_string(handle) + ")"); }
  std::vector<std::string> all_gather(const std::string& key, const std::string& value) override {
    std::vector<std::string> values;
    FakeWorld::Call call{"all_gather(" + key + ")"};
    call.value = value;
    call.gathered = &values;
    world_.meet(rank(), call);
    return values;
  }
  void barrier(const std::string& what) override {
    FakeWorld::Call call{"barrier(" + what + ")"};
    world_.meet(rank(), call);
  }
  // Rank 0 publishes while the others await the same key: one meeting.
  void publish(const std::string& key, const std::string& value) override {
    std::string bytes = value;
    FakeWorld::Call call{"publish/await(" + key + ")"};
    call.bytes = &bytes;
    world_.meet(rank(), call);
  }
  std::string await(const std::string& key, const std::string& what) override {
    (void)what;
    std::string bytes;
    FakeWorld::Call call{"publish/await(" + key + ")"};
    call.bytes = &bytes;
    world_.meet(rank(), call);
    return bytes;
  }

 private:
  FakeWorld& world_;
  int64_t handles_ = 0;
};

// Runs body(rank, comm) on `size` threads, one fake worker each; every
// worker's exception message (empty when it returned).
std::vector<std::string> run_workers(FakeWorld& world, const std::function<void(int64_t, dist::Communicator&)>& body) {
  std::vector<std::string> errors(static_cast<size_t>(world.size()));
  std::vector<std::thread> threads;
  for (int64_t r = 0; r < world.size(); ++r) {
    threads.emplace_back([&, r] {
      FakeCommunicator comm(world, r);
      try {
        body(r, comm);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(r)] = e.what();
      }
      world.leave(r);
    });
  }
  for (auto& t : threads) t.join();
  return errors;
}

void expect_no_errors(const std::vector<std::string>& errors) {
  for (size_t r = 0; r < errors.size(); ++r) EXPECT_EQ(errors[r], "") << "rank " << r;
}

TEST(FakeCommunicatorTest, RanksIssuingDifferentCollectivesFailNamingBoth) {
  FakeWorld world(2);
  const auto errors = run_workers(world, [](int64_t rank, dist::Communicator& comm) {
    if (rank == 0) {
      comm.all_gather("sync/1/position", "0 0");
    } else {
      auto votes = torch::zeros({2}, torch::kFloat64);
      comm.all_reduce_sum({votes}, "the vote on stopping");
    }
  });
  for (const auto& e : errors) {
    EXPECT_NE(e.find("rank 0 issued 'all_gather(sync/1/position)' while rank 1 issued 'all_reduce_sum(the vote on "
                     "stopping, 1 tensor(s), 2 values)'"),
              std::string::npos)
        << e;
  }
}

TEST(FakeCommunicatorTest, ARankThatLeavesReleasesTheOthersAtOnce) {
  FakeWorld world(2);
  const auto start = std::chrono::steady_clock::now();
  const auto errors = run_workers(world, [](int64_t rank, dist::Communicator& comm) {
    if (rank == 1) comm.barrier("the end");
  });
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(errors[0], "");
  EXPECT_NE(errors[1].find("rank 1 waits at 'barrier(the end)' but rank 0 left the run"), std::string::npos) << errors[1];
}

TEST(RankProtocolTest, ASignalOnOneWorkerStopsEveryWorkerAsInterrupted) {
  FakeWorld world(3);
  std::vector<StopVote> votes(3);
  expect_no_errors(run_workers(world, [&](int64_t rank, dist::Communicator& comm) {
    RankProtocol protocol(comm);
    votes[static_cast<size_t>(rank)] = protocol.vote(false, rank == 2);
  }));
  for (const auto& v : votes) {
    EXPECT_TRUE(v.stop);
    EXPECT_TRUE(v.interrupted);
  }
}

TEST(RankProtocolTest, OnlyRankZerosLimitsStopTheRun) {
  for (const int64_t stopping_rank : {0, 1}) {
    FakeWorld world(2);
    std::vector<StopVote> votes(2);
    expect_no_errors(run_workers(world, [&](int64_t rank, dist::Communicator& comm) {
      votes[static_cast<size_t>(rank)] = RankProtocol(comm).vote(rank == stopping_rank, false);
    }));
    for (const auto& v : votes) {
      EXPECT_EQ(v.stop, stopping_rank == 0) << "rank " << stopping_rank << "'s clock";
      EXPECT_FALSE(v.interrupted);
    }
  }
}

TEST(RankProtocolTest, UpdateSumsAddUpAndCarryRankZerosEpoch) {
  FakeWorld world(2);
  std::vector<UpdateSums> sums(2);
  expect_no_errors(run_workers(world, [&](int64_t rank, dist::Communicator& comm) {
    UpdateSums mine;
    mine.loss = 1.5 + static_cast<double>(rank);
    mine.tokens = 10;
    mine.sentences = 2;
    mine.non_finite = rank == 1 ? 1 : 0;
    mine.epochs = rank == 0 ? 3 : 4;  // rank 1 has finished its epoch, rank 0 not yet
    mine.epoch_ended = rank == 1;
    sums[static_cast<size_t>(rank)] = RankProtocol(comm).sum(mine);
  }));
  for (const auto& s : sums) {
    EXPECT_DOUBLE_EQ(s.loss, 4.0);
    EXPECT_DOUBLE_EQ(s.tokens, 20);
    EXPECT_DOUBLE_EQ(s.sentences, 4);
    EXPECT_DOUBLE_EQ(s.non_finite, 1);
    EXPECT_EQ(s.epochs, 3);
    EXPECT_FALSE(s.epoch_ended);
  }
}

TEST(RankProtocolTest, TheLeaderValidatesOnceAndTheOthersAdoptItsOutcome) {
  FakeWorld world(3);
  std::atomic<int> leader_runs{0};
  std::vector<model::TrainState> states(3);
  std::vector<bool> stops(3);
  expect_no_errors(run_workers(world, [&](int64_t rank, dist::Communicator& comm) {
    RankProtocol protocol(comm);
    auto& state = states[static_cast<size_t>(rank)];
    const data::BatchPosition position{1, 10 + rank};
    stops[static_cast<size_t>(rank)] = protocol.sync(state, position, "validation", [&] {
      ++leader_runs;
      state.best[eval::Metric::kBleu] = 31.5;
      state.stalled = 2;
      state.validations = 7;
      state.scheduler = "{\"factor\":0.5}";
      return true;
    });
    protocol.finish();
  }));
  EXPECT_EQ(leader_runs.load(), 1);
  for (size_t r = 0; r < 3; ++r) {
    EXPECT_TRUE(stops[r]);
    EXPECT_DOUBLE_EQ(states[r].best[eval::Metric::kBleu], 31.5);
    EXPECT_EQ(states[r].stalled, 2);
    EXPECT_EQ(states[r].validations, 7);
    EXPECT_EQ(states[r].scheduler, "{\"factor\":0.5}");
    ASSERT_EQ(states[r].workers.size(), 3u);
    EXPECT_EQ(states[r].workers[2].index, 12);
  }
  EXPECT_EQ(world.log(0), world.log(1));
  EXPECT_EQ(world.log(0), (std::vector<std::string>{"all_gather(sync/1/position)", "publish/await(sync/1)",
                                                     "barrier(the last checkpoint)"}));
}

// The whole trainer, two workers on threads: a copy task of `pairs` sentences,
// one sentence a batch (so an epoch has `pairs` batches).
TrainOptions tiny_run(const std::string& dir, size_t pairs) {
  auto o = copy_task(dir, pairs);
  o.valid_metrics = {eval::Metric::kCrossEntropy};
  o.batching.max_sentences = 1;
  o.valid_freq = 0;
  o.disp_freq = 0;
  return o;
}

struct WorkerRun {
  model::TrainState state;
  int interrupted_by = 0;
};

// Trains `o` on two fake workers; `adjust` changes one worker's options.
std::vector<WorkerRun> train_on_two(FakeWorld& world, const TrainOptions& o,
                                    const std::function<void(int64_t, TrainOptions&)>& adjust = {}) {
  std::vector<WorkerRun> runs(2);
  expect_no_errors(run_workers(world, [&](int64_t rank, dist::Communicator& comm) {
    TrainOptions mine = o;
    mine.communicator = &comm;
    if (adjust) adjust(rank, mine);
    Trainer trainer(mine);
    runs[static_cast<size_t>(rank)].state = trainer.run();
    runs[static_cast<size_t>(rank)].interrupted_by = trainer.interrupted_by();
  }));
  EXPECT_EQ(world.log(0), world.log(1)) << "the workers issued different collectives";
  return runs;
}

TEST(RankProtocolTest, ValidationAtEpochEndsComesAtRankZerosEpochOnEveryWorker) {
  // Seven batches an epoch and two workers: rank 1's batches run one ahead, so
  // its epochs end one update before rank 0's. Validating at each worker's own
  // epoch end would put a sync on one worker only.
  const std::string dir = test::temp_dir();
  auto o = tiny_run(dir, 7);
  o.after_epochs = 1;
  o.model_dir = dir + "/single";
  ASSERT_EQ(Trainer(o).run().updates, 7) << "the test needs an odd number of batches an epoch";
  o.model_dir = dir + "/model";
  o.after_epochs = 3;
  o.valid_freq_epochs = 1;
  FakeWorld world(2);
  const auto runs = train_on_two(world, o);
  for (const auto& run : runs) {
    EXPECT_EQ(run.state.validations, 3);
    EXPECT_EQ(run.state.updates, runs[0].state.updates);
  }
  EXPECT_EQ(runs[0].state.updates, 11);  // 21 batches (3 epochs of 7) at two an update
}

TEST(RankProtocolTest, ASignalOnRankOneStopsBothAtTheSameUpdate) {
  const std::string dir = test::temp_dir();
  auto o = tiny_run(dir, 5);
  o.after_updates = 50;
  o.valid_freq = 2;
  FakeWorld world(2);
  std::atomic<int> signal_of_rank_one{0};
  const auto runs = train_on_two(world, o, [&](int64_t rank, TrainOptions& mine) {
    if (rank != 1) return;
    mine.stop_request = &signal_of_rank_one;
    mine.gradient_hook = [&](model::Seq2Seq&, int64_t update) {
      if (update == 3) signal_of_rank_one = SIGINT;
    };
  });
  EXPECT_EQ(runs[0].state.updates, 3);
  EXPECT_EQ(runs[1].state.updates, 3);
  EXPECT_EQ(runs[0].interrupted_by, SIGTERM);  // another worker's signal
  EXPECT_EQ(runs[1].interrupted_by, SIGINT);
  EXPECT_EQ(runs[1].state.validations, 1);  // rank 0's validation at update 2, adopted
  const auto last = model::load_checkpoint(dir + "/model/model.ckpt", torch::kCPU);
  EXPECT_EQ(last.meta.state.updates, 3);
  ASSERT_EQ(last.meta.state.workers.size(), 2u);
}

TEST(RankProtocolTest, RankZerosEarlyStoppingStopsEveryWorker) {
  const std::string dir = test::temp_dir();
  auto o = tiny_run(dir, 5);
  o.after_updates = 200;
  o.valid_freq = 1;
  o.early_stopping = 1;
  o.lr.base = 5.0;  // far too high: validation stops improving soon
  o.optimizer = OptimizerType::kSgd;
  FakeWorld world(2);
  const auto runs = train_on_two(world, o);
  EXPECT_LT(runs[0].state.updates, 200);
  EXPECT_EQ(runs[1].state.updates, runs[0].state.updates);
  EXPECT_EQ(runs[1].state.stalled, 1);
}

}  // namespace
}  // namespace tandem::train
