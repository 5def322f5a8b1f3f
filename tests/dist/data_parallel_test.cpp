// Data-parallel training as users launch it: tandem-train --num-processes, and
// workers started one by one with torchrun's variables, on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "tandem/model/checkpoint.h"
#include "tandem/util/free_port.h"
#include "test_support.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

using util::free_port;

// A tandem-train worker started in the background with launcher variables.
struct Worker {
  pid_t pid = -1;
  std::string err_path;
  int exit_code = -1;

  // Waits at most `limit`; false when it is still running then.
  bool wait(std::chrono::seconds limit) {
    const auto end = Clock::now() + limit;
    while (Clock::now() < end) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::string err() const { return test::read_file(err_path); }
  ~Worker() {
    if (pid > 0 && exit_code < 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

// A shell command in the background, its stderr in `err_path` (stdout dropped).
std::unique_ptr<Worker> start_command(const std::string& command_line, const std::map<std::string, std::string>& env,
                                      const std::string& err_path) {
  auto worker = std::make_unique<Worker>();
  worker->err_path = err_path;
  const std::string command = "exec " + command_line + " > /dev/null 2> " + test::shell_quote(err_path);
  worker->pid = ::fork();
  if (worker->pid == 0) {
    for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return worker;
}

// `where`: a command line the program runs under (a machine of the cluster below).
std::unique_ptr<Worker> start_worker(const std::string& args, const std::map<std::string, std::string>& env,
                                     const std::string& err_path, const std::string& where = "") {
  return start_command(where + " " + std::string(TANDEM_BIN_DIR) + "/tandem-train " + args, env, err_path);
}

// Waits at most `limit` for `path` to appear; whether it did.
bool wait_for_file(const std::string& path, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!fs::exists(path) && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return fs::exists(path);
}

std::map<std::string, std::string> torchrun_env(int rank, int world, int port) {
  return {{"RANK", std::to_string(rank)},
          {"WORLD_SIZE", std::to_string(world)},
          {"LOCAL_RANK", std::to_string(rank)},
          {"MASTER_ADDR", "127.0.0.1"},
          {"MASTER_PORT", std::to_string(port)}};
}

class DataParallelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir();
    std::string text;
    for (const auto& s : test::sample_sentences()) text += s + "\n";
    test::write_file(dir_ + "/train.src", text);
    test::write_file(dir_ + "/train.tgt", text);
  }
  std::string common(const std::string& model, const std::string& cell, const std::string& dropout = "0") const {
    return "--model " + dir_ + "/" + model + " --train-sets " + dir_ + "/train.src " + dir_ + "/train.tgt --vocabs " +
           test::sample_model_path() + " --cell " + cell +
           " --dim-emb 8 --dim-rnn 12 --mini-batch 3 --maxi-batch 4 --dropout-emb " + dropout + " --dropout-rnn " +
           dropout + " --dropout-out " + dropout + " --disp-freq 1 --seed 7";
  }
  std::vector<double> losses(const std::string& model) const {
    std::vector<double> out;
    std::istringstream in(test::read_file(dir_ + "/" + model + "/train.log.jsonl"));
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line);
      if (j.value("type", "") == "train") out.push_back(j.at("loss").get<double>());
    }
    return out;
  }
  // Runs `a` and `b` (model folders under dir_) logged the same `updates` losses
  // (to 1e-4 relative) and ended with the same weights (to 1e-5).
  void expect_same_training(const std::string& a, const std::string& b, size_t updates) const {
    const auto la = losses(a);
    const auto lb = losses(b);
    ASSERT_EQ(la.size(), updates);
    ASSERT_EQ(lb.size(), la.size());
    for (size_t i = 0; i < la.size(); ++i) EXPECT_NEAR(lb[i], la[i], 1e-4 * std::abs(la[i])) << "update " << i + 1;
    const auto x = model::load_checkpoint(dir_ + "/" + a + "/model.ckpt", torch::kCPU);
    const auto y = model::load_checkpoint(dir_ + "/" + b + "/model.ckpt", torch::kCPU);
    const auto py = y.model->named_parameters();
    for (const auto& p : x.model->named_parameters()) {
      EXPECT_LE((p.value() - py[p.key()]).abs().max().item<double>(), 1e-5) << p.key();
    }
  }
  std::string dir_;
};

class DataParallelCellTest : public DataParallelTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(DataParallelCellTest, TwoWorkersEqualOneProcessWithOptimizerDelayTwo) {
  const std::string cell = GetParam();
  auto one = test::run_program("tandem-train", common("one", cell) + " --after-updates 6 --optimizer-delay 2 --cpu-threads 1");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto two = test::run_program("tandem-train", common("two", cell) + " --after-updates 6 --num-processes 2 --cpu-threads 2");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_NE(two.err.find("starting 2 workers"), std::string::npos) << two.err;
  EXPECT_NE(two.err.find("2 worker(s)"), std::string::npos) << two.err;

  ASSERT_NO_FATAL_FAILURE(expect_same_training("one", "two", 6));
  const auto x = model::load_checkpoint(dir_ + "/one/model.ckpt", torch::kCPU);
  const auto y = model::load_checkpoint(dir_ + "/two/model.ckpt", torch::kCPU);
  EXPECT_EQ(y.meta.state.world_size, 2);
  ASSERT_EQ(y.meta.state.workers.size(), 2u);
  EXPECT_EQ(y.meta.state.workers[0], y.meta.state.position);
  EXPECT_EQ(x.meta.state.position, y.meta.state.position);  // both consumed the same 12 batches
  EXPECT_EQ(x.meta.state.target_tokens, y.meta.state.target_tokens);
  // Without a delay the run differs (a check that the comparison can fail).
  const auto a = losses("one");
  ASSERT_EQ(a.size(), 6u);
  auto single = test::run_program("tandem-train", common("single", cell) + " --after-updates 6 --cpu-threads 1");
  ASSERT_EQ(single.exit_code, 0) << single.err;
  EXPECT_GT(std::abs(losses("single").back() - a.back()), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Cells, DataParallelCellTest, ::testing::Values("gru", "lstm"));

TEST_F(DataParallelTest, ResumingWithTheSameWorkersIsExactEvenWithDropout) {
  const std::string two = " --num-processes 2 --cpu-threads 2";
  auto whole = test::run_program("tandem-train", common("whole", "lstm", "0.2") + two + " --after-updates 6");
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  auto part = test::run_program("tandem-train", common("part", "lstm", "0.2") + two + " --after-updates 3");
  ASSERT_EQ(part.exit_code, 0) << part.err;
  part = test::run_program("tandem-train", common("part", "lstm", "0.2") + two + " --after-updates 6");
  ASSERT_EQ(part.exit_code, 0) << part.err;
  EXPECT_NE(part.err.find("resuming from"), std::string::npos) << part.err;
  EXPECT_EQ(part.err.find("note:"), std::string::npos) << part.err;
  EXPECT_EQ(losses("part"), losses("whole"));
  const auto x = model::load_checkpoint(dir_ + "/whole/model.ckpt", torch::kCPU);
  const auto y = model::load_checkpoint(dir_ + "/part/model.ckpt", torch::kCPU);
  const auto py = y.model->named_parameters();
  for (const auto& p : x.model->named_parameters()) EXPECT_TRUE(torch::equal(p.value(), py[p.key()])) << p.key();
}

TEST_F(DataParallelTest, ResumingWithAnotherWorldSizeContinuesFromWhereAllWorkersStood) {
  auto two = test::run_program("tandem-train", common("m", "gru") + " --num-processes 2 --cpu-threads 2 --after-updates 3");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  const auto before = model::load_checkpoint(dir_ + "/m/model.ckpt", torch::kCPU).meta.state;
  auto one = test::run_program("tandem-train", common("m", "gru") + " --cpu-threads 1 --after-updates 5");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.err.find("written by 2 worker(s) with --optimizer-delay 1 and this run has 1 with 1"), std::string::npos)
      << one.err;
  const auto after = model::load_checkpoint(dir_ + "/m/model.ckpt", torch::kCPU).meta.state;
  EXPECT_EQ(after.world_size, 1);
  EXPECT_TRUE(after.workers.empty());
  EXPECT_EQ(before.updates, 3);
  // 3 updates of 2 batches, then 2 of 1: where one process stands after 8 batches.
  auto reference = test::run_program("tandem-train", common("ref", "gru") + " --cpu-threads 1 --after-updates 8");
  ASSERT_EQ(reference.exit_code, 0) << reference.err;
  EXPECT_EQ(after.position, model::load_checkpoint(dir_ + "/ref/model.ckpt", torch::kCPU).meta.state.position);
}

TEST_F(DataParallelTest, AKilledWorkerStopsTheOtherNamingItsRankAndTheCheckpointResumes) {
  const int port = free_port();
  const std::string args = common("m", "gru") + " --after-updates 1000000 --valid-freq 3 --cpu-threads 1 --quiet "
                                                 "--distributed-timeout 30";
  auto rank0 = start_worker(args, torchrun_env(0, 2, port), dir_ + "/rank0.err");
  auto rank1 = start_worker(args, torchrun_env(1, 2, port), dir_ + "/rank1.err");
  wait_for_file(dir_ + "/m/model.ckpt", std::chrono::seconds(60));
  ASSERT_TRUE(fs::exists(dir_ + "/m/model.ckpt")) << rank0->err() << rank1->err();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(rank1->pid, SIGKILL);
  const auto killed_at = Clock::now();
  ASSERT_TRUE(rank0->wait(std::chrono::seconds(40))) << "rank 0 did not stop after rank 1 was killed";
  EXPECT_TRUE(rank1->wait(std::chrono::seconds(5)));
  EXPECT_LT(Clock::now() - killed_at, std::chrono::seconds(35));
  EXPECT_EQ(rank0->exit_code, 1);
  EXPECT_NE(rank0->err().find("rank 1 stopped"), std::string::npos) << rank0->err();

  // The last checkpoint is whole and resumes with two workers.
  const auto saved = model::load_checkpoint(dir_ + "/m/model.ckpt", torch::kCPU);
  const int64_t updates = saved.meta.state.updates;
  EXPECT_GE(updates, 3);
  EXPECT_EQ(updates % 3, 0);
  const auto resumed = test::run_program(
      "tandem-train", common("m", "gru") + " --after-updates " + std::to_string(updates + 2) +
                          " --valid-freq 3 --cpu-threads 2 --num-processes 2 --distributed-timeout 30");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming from"), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.err.find("stopped after " + std::to_string(updates + 2) + " updates"), std::string::npos)
      << resumed.err;
}

TEST_F(DataParallelTest, WhenRankZeroDiesTheOthersSaySo) {
  const int port = free_port();
  const std::string args = common("m", "gru") + " --after-updates 1000000 --cpu-threads 1 --quiet --distributed-timeout 30";
  auto rank0 = start_worker(args, torchrun_env(0, 2, port), dir_ + "/rank0.err");
  auto rank1 = start_worker(args, torchrun_env(1, 2, port), dir_ + "/rank1.err");
  wait_for_file(dir_ + "/m/train.log.jsonl", std::chrono::seconds(60));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ::kill(rank0->pid, SIGKILL);
  ASSERT_TRUE(rank1->wait(std::chrono::seconds(40))) << "rank 1 did not stop after rank 0 was killed";
  EXPECT_EQ(rank1->exit_code, 1);
  EXPECT_NE(rank1->err().find("rank 0"), std::string::npos) << rank1->err();
  EXPECT_NE(rank1->err().find("stopped"), std::string::npos) << rank1->err();
}

TEST_F(DataParallelTest, BadLaunchesAreClearErrors) {
  const std::string args = common("m", "gru") + " --after-updates 2 --cpu-threads 1 --distributed-timeout 3";
  // A rank at or over the world size, and a missing variable.
  {
    auto w = start_worker(args, {{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "1"}},
                          dir_ + "/over.err");
    ASSERT_TRUE(w->wait(std::chrono::seconds(20)));
    EXPECT_EQ(w->exit_code, 1);
    EXPECT_NE(w->err().find("RANK=2 is not below WORLD_SIZE=2"), std::string::npos) << w->err();
  }
  {
    auto w = start_worker(args, {{"RANK", "1"}}, dir_ + "/missing.err");
    ASSERT_TRUE(w->wait(std::chrono::seconds(20)));
    EXPECT_EQ(w->exit_code, 1);
    EXPECT_NE(w->err().find("WORLD_SIZE"), std::string::npos) << w->err();
  }
  {  // The port is taken by another program.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    ASSERT_EQ(::listen(fd, 1), 0);
    socklen_t length = sizeof(address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    const int port = ntohs(address.sin_port);
    auto w = start_worker(args, torchrun_env(0, 2, port), dir_ + "/inuse.err");
    const bool done = w->wait(std::chrono::seconds(20));
    ::close(fd);
    ASSERT_TRUE(done);
    EXPECT_EQ(w->exit_code, 1);
    EXPECT_NE(w->err().find("MASTER_PORT " + std::to_string(port) + " is already in use"), std::string::npos)
        << w->err();
  }
  {  // --num-processes inside a one-task srun step: an error naming the variable, not one silent process.
    auto w = start_worker(args + " --num-processes 2",
                          {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}, {"SLURM_STEP_ID", "0"},
                           {"SLURM_STEP_NUM_TASKS", "1"}},
                          dir_ + "/slurm-one.err");
    ASSERT_TRUE(w->wait(std::chrono::seconds(20)));
    EXPECT_EQ(w->exit_code, 1);
    EXPECT_NE(w->err().find("--num-processes 2 under srun, whose SLURM_STEP_NUM_TASKS is 1"), std::string::npos)
        << w->err();
  }
  {  // A batch script's plain command in a 4-task job: one process that says so, not a 300 s wait.
    auto w = start_worker(common("batch", "gru") + " --after-updates 2 --cpu-threads 1 --distributed-timeout 3",
                          {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}, {"SLURM_JOB_ID", "7"}},
                          dir_ + "/slurm-batch.err");
    ASSERT_TRUE(w->wait(std::chrono::seconds(30)));
    EXPECT_EQ(w->exit_code, 0) << w->err();
    EXPECT_NE(w->err().find("without a job step (no SLURM_STEP_ID): training as a single process"),
              std::string::npos)
        << w->err();
  }
  {  // Nobody serves the rendezvous: a bounded wait, then an error.
    const auto start = Clock::now();
    auto w = start_worker(args, torchrun_env(1, 2, free_port()), dir_ + "/unreachable.err");
    ASSERT_TRUE(w->wait(std::chrono::seconds(30)));
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(25));
    EXPECT_EQ(w->exit_code, 1);
    EXPECT_NE(w->err().find("cannot reach the master at 127.0.0.1"), std::string::npos) << w->err();
  }
}

TEST_F(DataParallelTest, WorkersStartedWithOtherOptionsStopAtTheStart) {
  const std::string base = "--after-updates 2 --cpu-threads 1 --distributed-timeout 20";
  // Rank 1 differs by one option; both stop, naming rank 1 and the option.
  for (const auto& [folder, option, name] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"m", "--label-smoothing 0.1", "--label-smoothing"},
           {"p", "--precision bfloat16", "--precision"},
           {"n", "--max-nonfinite-updates 3", "--max-nonfinite-updates"}}) {
    const int port = free_port();
    auto rank0 = start_worker(common(folder, "gru") + " " + base, torchrun_env(0, 2, port),
                              dir_ + "/" + folder + "0.err");
    auto rank1 = start_worker(common(folder, "gru") + " " + base + " " + option, torchrun_env(1, 2, port),
                              dir_ + "/" + folder + "1.err");
    ASSERT_TRUE(rank0->wait(std::chrono::seconds(40))) << option;
    ASSERT_TRUE(rank1->wait(std::chrono::seconds(10))) << option;
    EXPECT_EQ(rank0->exit_code, 1) << option;
    EXPECT_EQ(rank1->exit_code, 1) << option;
    for (const auto* w : {rank0.get(), rank1.get()}) {
      EXPECT_NE(w->err().find("not started alike: rank 1"), std::string::npos) << w->err();
      EXPECT_NE(w->err().find(name), std::string::npos) << w->err();
    }
    EXPECT_FALSE(fs::exists(dir_ + "/" + folder + "/model.ckpt")) << option;
  }
}

// A named backend connects even one worker (a world of one, as NCCL allows),
// so that one machine checks the path every collective takes.
TEST_F(DataParallelTest, ANamedBackendTrainsAWorldOfOneAsASingleProcess) {
  auto plain = test::run_program("tandem-train", common("plain", "gru") + " --after-updates 4 --cpu-threads 1");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  auto gloo = test::run_program("tandem-train", common("gloo", "gru") + " --after-updates 4 --cpu-threads 1 "
                                                                        "--distributed-backend gloo");
  ASSERT_EQ(gloo.exit_code, 0) << gloo.err;
  EXPECT_NE(gloo.err.find("1 worker(s) x 1 mini-batch(es) an update; collectives through gloo"), std::string::npos)
      << gloo.err;
  ASSERT_NO_FATAL_FAILURE(expect_same_training("plain", "gloo", 4));
  // NCCL needs CUDA tensors and a build with NCCL: a clear error, not a crash.
  auto nccl = test::run_program("tandem-train", common("nccl", "gru") + " --after-updates 1 --distributed-backend nccl");
  EXPECT_EQ(nccl.exit_code, 1);
  EXPECT_NE(nccl.err.find("--distributed-backend nccl reduces CUDA tensors, and this run trains on cpu"),
            std::string::npos)
      << nccl.err;
  auto bad = test::run_program("tandem-train", common("bad", "gru") + " --after-updates 1 --distributed-backend mpi");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--distributed-backend must be auto, gloo or nccl, got 'mpi'"), std::string::npos) << bad.err;
}

// Workers started by --num-processes meet in a file of a private folder and
// connect over loopback: none of them listens on another address (a TCP store
// would listen on every interface: LibTorch 1.13's takes no listen address).
TEST_F(DataParallelTest, WorkersOfNumProcessesListenOnLoopbackOnly) {
  auto run = start_command(std::string(TANDEM_BIN_DIR) + "/tandem-train " + common("m", "gru") +
                               " --after-updates 1000000 --num-processes 2 --cpu-threads 2 --quiet",
                           {}, dir_ + "/train.err");
  wait_for_file(dir_ + "/m/train.log.jsonl", std::chrono::seconds(60));
  ASSERT_TRUE(fs::exists(dir_ + "/m/train.log.jsonl")) << run->err();
  const std::string listening = dir_ + "/listening.txt";
  ASSERT_EQ(std::system(("ss -ltnpH > " + listening).c_str()), 0) << "ss (iproute2) is needed";
  // This run's processes: the launcher and its workers, all descendants of the
  // started command (other tests may run beside this one).
  std::set<std::string> ours;
  std::vector<std::string> todo = {std::to_string(run->pid)};
  while (!todo.empty()) {
    const std::string pid = todo.back();
    todo.pop_back();
    if (!ours.insert(pid).second) continue;
    std::error_code ec;
    for (const auto& task : fs::directory_iterator("/proc/" + pid + "/task", ec)) {
      std::istringstream children(test::read_file(task.path().string() + "/children"));
      for (std::string child; children >> child;) todo.push_back(child);
    }
  }
  ::kill(run->pid, SIGTERM);
  ASSERT_TRUE(run->wait(std::chrono::seconds(60))) << run->err();
  EXPECT_EQ(run->exit_code, 128 + SIGTERM) << run->err();
  std::istringstream lines(test::read_file(listening));
  // (A TCP store would show here as "*:PORT ... users:(("tandem-train",...)).)
  int checked = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"tandem-train\"") == std::string::npos) continue;
    const auto at = line.find("pid=");
    if (at == std::string::npos || ours.count(line.substr(at + 4, line.find(',', at) - at - 4)) == 0) continue;
    ++checked;
    std::istringstream fields(line);
    std::string state, receive, send, local;
    fields >> state >> receive >> send >> local;
    EXPECT_EQ(local.rfind("127.0.0.1:", 0), 0u) << line;
  }
  // (Gloo's workers may listen only while they connect: finding none is fine; `checked` says how many were seen.)
  RecordProperty("listening_sockets_of_this_run", checked);
}

TEST_F(DataParallelTest, AWorkerThatNeverJoinsIsReportedWithinTheTimeout) {
  const auto start = Clock::now();
  auto rank0 = start_worker(common("m", "gru") + " --after-updates 2 --cpu-threads 1 --distributed-timeout 3",
                            torchrun_env(0, 2, free_port()), dir_ + "/rank0.err");
  ASSERT_TRUE(rank0->wait(std::chrono::seconds(30)));
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(25));
  EXPECT_EQ(rank0->exit_code, 1);
  EXPECT_NE(rank0->err().find("only 1 of 2 workers joined"), std::string::npos) << rank0->err();
}

// Two machines in one box (tools/netns-cluster.sh): network namespaces joined by
// a bridge, each with its own address, sharing the file system; the host name
// resolves to loopback in both, as on a default Debian machine.
class ClusterTest : public DataParallelTest {
 protected:
  void SetUp() override {
    DataParallelTest::SetUp();
    name_ = "td" + std::to_string(::getpid() % 1000000);
    const auto r = cluster("up " + name_ + " 2");
    ASSERT_EQ(r.exit_code, 0) << "tools/netns-cluster.sh could not make two network namespaces (this test needs "
                                 "root and iproute2):\n"
                              << r.out;
    up_ = true;
  }
  void TearDown() override {
    if (up_) cluster("down " + name_);
  }
  test::ProgramResult cluster(const std::string& args) const {
    const std::string out = dir_ + "/cluster.out";
    test::ProgramResult r;
    const int status = std::system(("timeout 60 " + std::string(TANDEM_SOURCE_DIR) + "/tools/netns-cluster.sh " + args +
                                    " > " + out + " 2>&1")
                                       .c_str());
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = test::read_file(out);
    return r;
  }
  // The command line that runs a program on machine `index` (1 or 2).
  std::string on(int index) const {
    return std::string(TANDEM_SOURCE_DIR) + "/tools/netns-cluster.sh exec " + name_ + " " + std::to_string(index);
  }
  static std::map<std::string, std::string> env(int rank, int world, int local_rank) {
    return {{"RANK", std::to_string(rank)},
            {"WORLD_SIZE", std::to_string(world)},
            {"LOCAL_RANK", std::to_string(local_rank)},
            {"MASTER_ADDR", "10.77.0.1"},
            {"MASTER_PORT", "29511"}};
  }
  std::string name_;
  bool up_ = false;
};

// The failure of issue 25: each worker offered the host name's address
// (loopback), so they met at the master and could not reach each other.
TEST_F(ClusterTest, TwoMachinesTrainTogetherAsOneProcessWithOptimizerDelayTwo) {
  auto one = test::run_program("tandem-train", common("one", "gru") + " --after-updates 6 --optimizer-delay 2 --cpu-threads 1");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const std::string args = common("two", "gru") + " --after-updates 6 --cpu-threads 1 --distributed-timeout 30";
  auto rank0 = start_worker(args, env(0, 2, 0), dir_ + "/rank0.err", on(1));
  auto rank1 = start_worker(args, env(1, 2, 0), dir_ + "/rank1.err", on(2));
  ASSERT_TRUE(rank0->wait(std::chrono::seconds(90))) << rank0->err();
  ASSERT_TRUE(rank1->wait(std::chrono::seconds(30))) << rank1->err();
  ASSERT_EQ(rank0->exit_code, 0) << rank0->err();
  ASSERT_EQ(rank1->exit_code, 0) << rank1->err();
  ASSERT_NO_FATAL_FAILURE(expect_same_training("one", "two", 6));
  EXPECT_EQ(model::load_checkpoint(dir_ + "/two/model.ckpt", torch::kCPU).meta.state.world_size, 2);
  // Rank 0's store listened on the master's address, not on every interface of its machine.
  EXPECT_NE(rank0->err().find("rendezvous store: listening on 10.77.0.1:29511\n"), std::string::npos) << rank0->err();
}

// torchrun --nnodes 2 --nproc-per-node 2: ranks 0 and 1 on the first machine,
// 2 and 3 on the second, the model folder and its id cache shared by both.
TEST_F(ClusterTest, TwoMachinesOfTwoWorkersEachTrainAsOneProcessWithOptimizerDelayFour) {
  auto one = test::run_program("tandem-train", common("one", "lstm") + " --after-updates 4 --optimizer-delay 4 --cpu-threads 1");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const std::string args = common("four", "lstm") + " --after-updates 4 --cpu-threads 1 --distributed-timeout 30";
  std::vector<std::unique_ptr<Worker>> workers;
  for (int rank = 0; rank < 4; ++rank) {
    workers.push_back(start_worker(args, env(rank, 4, rank % 2), dir_ + "/rank" + std::to_string(rank) + ".err",
                                   on(1 + rank / 2)));
  }
  for (auto& w : workers) {
    ASSERT_TRUE(w->wait(std::chrono::seconds(90))) << w->err();
    ASSERT_EQ(w->exit_code, 0) << w->err();
  }
  EXPECT_NE(workers[0]->err().find("4 worker(s) (torchrun)"), std::string::npos) << workers[0]->err();
  ASSERT_NO_FATAL_FAILURE(expect_same_training("one", "four", 4));
  const auto state = model::load_checkpoint(dir_ + "/four/model.ckpt", torch::kCPU).meta.state;
  EXPECT_EQ(state.world_size, 4);
  EXPECT_EQ(state.workers.size(), 4u);
  // One id cache, whole, and nothing half-written beside it.
  std::vector<std::string> caches;
  std::vector<std::string> others;
  for (const auto& entry : fs::directory_iterator(dir_ + "/four")) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("corpus-", 0) == 0 && entry.path().extension() == ".ids") {
      caches.push_back(name);
    } else if (name.find(".tmp") != std::string::npos || name.find("staging") != std::string::npos) {
      others.push_back(name);
    }
  }
  EXPECT_EQ(caches.size(), 1u);
  EXPECT_TRUE(others.empty()) << others.front();
}

// A worker killed on the second machine: the first stops within the timeout,
// naming its rank, and the last checkpoint resumes on both machines.
TEST_F(ClusterTest, AWorkerKilledOnOneMachineStopsTheOtherAndTheCheckpointResumesOnBoth) {
  const std::string args = common("m", "gru") + " --valid-freq 3 --cpu-threads 1 --quiet --distributed-timeout 20";
  auto rank0 = start_worker(args + " --after-updates 1000000", env(0, 2, 0), dir_ + "/rank0.err", on(1));
  auto rank1 = start_worker(args + " --after-updates 1000000", env(1, 2, 0), dir_ + "/rank1.err", on(2));
  wait_for_file(dir_ + "/m/model.ckpt", std::chrono::seconds(60));
  ASSERT_TRUE(fs::exists(dir_ + "/m/model.ckpt")) << rank0->err() << rank1->err();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(rank1->pid, SIGKILL);
  const auto killed_at = Clock::now();
  ASSERT_TRUE(rank0->wait(std::chrono::seconds(40))) << "rank 0 did not stop after rank 1 was killed";
  EXPECT_LT(Clock::now() - killed_at, std::chrono::seconds(25));
  EXPECT_TRUE(rank1->wait(std::chrono::seconds(5)));
  EXPECT_EQ(rank0->exit_code, 1);
  EXPECT_NE(rank0->err().find("rank 1 stopped"), std::string::npos) << rank0->err();

  const int64_t updates = model::load_checkpoint(dir_ + "/m/model.ckpt", torch::kCPU).meta.state.updates;
  EXPECT_GE(updates, 3);
  const std::string more = " --after-updates " + std::to_string(updates + 2);
  auto again0 = start_worker(args + more, env(0, 2, 0), dir_ + "/again0.err", on(1));
  auto again1 = start_worker(args + more, env(1, 2, 0), dir_ + "/again1.err", on(2));
  ASSERT_TRUE(again0->wait(std::chrono::seconds(60))) << again0->err();
  ASSERT_TRUE(again1->wait(std::chrono::seconds(20))) << again1->err();
  EXPECT_EQ(again0->exit_code, 0) << again0->err();
  EXPECT_EQ(again1->exit_code, 0) << again1->err();
  const auto state = model::load_checkpoint(dir_ + "/m/model.ckpt", torch::kCPU).meta.state;
  EXPECT_EQ(state.updates, updates + 2);
  EXPECT_EQ(state.world_size, 2);
}

// Workers told to connect over loopback (GLOO_SOCKET_IFNAME=lo) cannot reach a
// peer on another machine: both stop within the timeout, whatever their rank,
// naming the address they offered.
TEST_F(ClusterTest, WorkersThatCannotReachEachOtherBothStopWithinTheTimeout) {
  const std::string args = common("m", "gru") + " --after-updates 6 --cpu-threads 1 --distributed-timeout 10";
  auto rank0_env = env(0, 2, 0);
  auto rank1_env = env(1, 2, 0);
  rank0_env["GLOO_SOCKET_IFNAME"] = rank1_env["GLOO_SOCKET_IFNAME"] = "lo";
  const auto start = Clock::now();
  auto rank0 = start_worker(args, rank0_env, dir_ + "/rank0.err", on(1));
  auto rank1 = start_worker(args, rank1_env, dir_ + "/rank1.err", on(2));
  ASSERT_TRUE(rank0->wait(std::chrono::seconds(60))) << "rank 0 still waits after 60 s";
  ASSERT_TRUE(rank1->wait(std::chrono::seconds(60) -
                          std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start)))
      << "rank 1 still waits after 60 s:\n" << rank1->err();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(45));
  for (const auto* w : {rank0.get(), rank1.get()}) {
    EXPECT_EQ(w->exit_code, 1) << w->err();
    EXPECT_NE(w->err().find("GLOO_SOCKET_IFNAME"), std::string::npos) << w->err();
  }
}

// Real launchers, run for real (the slow tier installs openmpi-bin and
// python3-torch): Open MPI's mpirun on this machine, and Debian's torchrun on
// each of two machines, meeting through its c10d rendezvous.
class LauncherTest : public ClusterTest {
 protected:
  // Fails (never skips) when `program` is missing, naming its package.
  static void need(const std::string& program, const std::string& package) {
    ASSERT_EQ(std::system(("command -v " + program + " > /dev/null").c_str()), 0)
        << program << " is missing: apt-get install " << package << " (tools/run-tests.sh --slow installs it)";
  }
};

TEST_F(LauncherTest, MpirunStartsTwoWorkersThatTrainAsOneProcessWithOptimizerDelayTwo) {
  ASSERT_NO_FATAL_FAILURE(need("mpirun", "openmpi-bin"));
  auto one = test::run_program("tandem-train", common("one", "gru") + " --after-updates 6 --optimizer-delay 2 --cpu-threads 1");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  // As root Open MPI wants --allow-run-as-root; --oversubscribe lets 2 ranks share fewer cores.
  auto mpi = start_command("timeout 120 mpirun --allow-run-as-root --oversubscribe -np 2 -x MASTER_ADDR=127.0.0.1 "
                           "-x MASTER_PORT=" + std::to_string(free_port()) + " " + TANDEM_BIN_DIR + "/tandem-train " +
                               common("mpi", "gru") + " --after-updates 6 --cpu-threads 1 --distributed-timeout 30",
                           {}, dir_ + "/mpirun.err");
  ASSERT_TRUE(mpi->wait(std::chrono::seconds(150))) << mpi->err();
  ASSERT_EQ(mpi->exit_code, 0) << mpi->err();
  EXPECT_NE(mpi->err().find("rank 0 of 2 (mpirun"), std::string::npos) << mpi->err();
  ASSERT_NO_FATAL_FAILURE(expect_same_training("one", "mpi", 6));
}

// torchrun --nnodes 2 across the two machines, with the flags that Debian's
// torchrun (PyTorch 1.13 on Python 3.11) needs (README). Its c10d rendezvous
// gives the workers rank 0's host name as MASTER_ADDR, which the other machine
// resolves to the first machine's address.
TEST_F(LauncherTest, TorchrunOnTwoMachinesTrainsAsOneProcessWithOptimizerDelayTwo) {
  ASSERT_NO_FATAL_FAILURE(need("/usr/bin/python3", "python3"));
  ASSERT_EQ(std::system("/usr/bin/python3 -c 'import torch.distributed.run' 2> /dev/null"), 0)
      << "Debian's torchrun is missing: apt-get install python3-torch (tools/run-tests.sh --slow installs it)";
  auto one = test::run_program("tandem-train", common("one", "gru") + " --after-updates 6 --optimizer-delay 2 --cpu-threads 1");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  std::vector<std::unique_ptr<Worker>> agents;
  for (int machine = 1; machine <= 2; ++machine) {
    const std::string m = std::to_string(machine);
    agents.push_back(start_command(
        "timeout 120 " + on(machine) + " /usr/bin/python3 -m torch.distributed.run --nnodes 2 --nproc_per_node 1 "
            "--rdzv_backend c10d --rdzv_endpoint " + name_ + "-1:29612 --redirects 1 --tee 2 --log_dir " + dir_ +
            "/torchrun" + m + " --no_python " + TANDEM_BIN_DIR + "/tandem-train " + common("tr", "gru") +
            " --after-updates 6 --cpu-threads 1 --distributed-timeout 30",
        {}, dir_ + "/torchrun" + m + ".err"));
  }
  for (auto& agent : agents) {
    ASSERT_TRUE(agent->wait(std::chrono::seconds(150))) << agent->err();
    ASSERT_EQ(agent->exit_code, 0) << agent->err();
  }
  EXPECT_NE(agents[0]->err().find("2 worker(s) (torchrun)"), std::string::npos) << agents[0]->err();
  ASSERT_NO_FATAL_FAILURE(expect_same_training("one", "tr", 6));
}

}  // namespace
}  // namespace tandem
