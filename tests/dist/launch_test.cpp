#include "tandem/dist/launch.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "tandem/error.h"

namespace tandem::dist {
namespace {

Environment fake(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

std::string error_of(const std::map<std::string, std::string>& values) {
  try {
    launch_from_environment(fake(values));
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(LaunchTest, NoLauncherVariablesIsASingleProcess) {
  const auto info = launch_from_environment(fake({{"MASTER_ADDR", "x"}}));
  EXPECT_FALSE(info.distributed());
  EXPECT_EQ(info.rank, 0);
  EXPECT_EQ(info.world_size, 1);
  EXPECT_EQ(info.launcher, "");
  // torchrun with one worker is one process too.
  const auto one = launch_from_environment(fake({{"RANK", "0"}, {"WORLD_SIZE", "1"}}));
  EXPECT_FALSE(one.distributed());
}

TEST(LaunchTest, ReadsTorchrunMpirunAndSrunVariables) {
  auto info = launch_from_environment(fake({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"},
                                            {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29501"}}));
  EXPECT_EQ(info.launcher, "torchrun");
  EXPECT_EQ(info.rank, 3);
  EXPECT_EQ(info.world_size, 4);
  EXPECT_EQ(info.local_rank, 1);
  EXPECT_EQ(info.master_addr, "10.0.0.1");
  EXPECT_EQ(info.master_port, 29501);
  EXPECT_EQ(info.describe(), "rank 3 of 4 (torchrun, master 10.0.0.1:29501)");

  info = launch_from_environment(fake({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"},
                                       {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"MASTER_ADDR", "node1"}}));
  EXPECT_EQ(info.launcher, "mpirun");
  EXPECT_EQ(info.rank, 1);
  EXPECT_EQ(info.master_port, 29500);  // PyTorch's default port

  // As srun sets them in a step of 8 tasks of a job of 16.
  info = launch_from_environment(fake({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "16"}, {"SLURM_LOCALID", "1"},
                                       {"SLURM_STEP_ID", "0"}, {"SLURM_STEP_NUM_TASKS", "8"},
                                       {"SLURM_LAUNCH_NODE_IPADDR", "192.168.1.7"}}));
  EXPECT_EQ(info.launcher, "srun");
  EXPECT_EQ(info.rank, 5);
  EXPECT_EQ(info.world_size, 8);
  EXPECT_EQ(info.local_rank, 1);
  EXPECT_EQ(info.master_addr, "192.168.1.7");

  // torchrun's variables win when a torchrun job runs inside a Slurm allocation.
  info = launch_from_environment(fake({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"},
                                       {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}}));
  EXPECT_EQ(info.launcher, "torchrun");
  EXPECT_EQ(info.world_size, 2);
}

TEST(LaunchTest, BadLaunchesAreErrorsNamingTheVariable) {
  EXPECT_NE(error_of({{"RANK", "0"}}).find("WORLD_SIZE"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}}).find("RANK"), std::string::npos);
  const std::string over = error_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}});
  EXPECT_NE(over.find("RANK=2 is not below WORLD_SIZE=2"), std::string::npos) << over;
  EXPECT_NE(error_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).find("RANK='x'"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "0"}}).find("WORLD_SIZE='0'"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "1"}}).find("MASTER_ADDR is not set"),
            std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}}).find("MASTER_PORT is not set"),
            std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "70000"}})
                .find("not a TCP port"),
            std::string::npos);
  EXPECT_NE(error_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_STEP_ID", "0"}}).find("MASTER_ADDR"),
            std::string::npos);
}

// A batch script's plain command (or an salloc shell) sees the job's Slurm
// variables but is no step of srun: a single process, with a note.
TEST(LaunchTest, SlurmJobVariablesWithoutAStepAreASingleProcessWithANote) {
  for (const auto& vars : std::vector<std::map<std::string, std::string>>{
           {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}, {"SLURM_JOB_ID", "7"}},
           {{"SLURM_NTASKS", "4"}, {"SLURM_JOB_ID", "7"}}}) {
    const auto info = launch_from_environment(fake(vars));
    EXPECT_FALSE(info.distributed());
    EXPECT_EQ(info.launcher, "");
    EXPECT_NE(info.note.find("without a job step"), std::string::npos) << info.note;
  }
  // A one-task step is a launcher of one: its variable is named for --num-processes.
  const auto one = launch_from_environment(
      fake({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}, {"SLURM_STEP_ID", "1"}, {"SLURM_STEP_NUM_TASKS", "1"}}));
  EXPECT_FALSE(one.distributed());
  EXPECT_EQ(one.launcher, "srun");
  EXPECT_EQ(one.size_variable, "SLURM_STEP_NUM_TASKS");
}

}  // namespace
}  // namespace tandem::dist
