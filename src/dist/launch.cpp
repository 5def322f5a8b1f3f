#include "tandem/dist/launch.h"

#include <cstdlib>

#include "tandem/error.h"

namespace tandem::dist {
namespace {

int64_t parse_count(const std::string& name, const std::string& text, int64_t minimum) {
  size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < minimum) {
    throw Error("the environment variable " + name + "='" + text + "' is not a whole number of at least " +
                std::to_string(minimum) + "; check how the workers were launched");
  }
  return value;
}

struct Names {
  const char* launcher;
  const char* rank;
  const char* size;
  const char* local_rank;
};

}  // namespace

std::string LaunchInfo::describe() const {
  if (!distributed()) return "a single process";
  return "rank " + std::to_string(rank) + " of " + std::to_string(world_size) + " (" + launcher + ", master " +
         master_addr + ":" + std::to_string(master_port) + ")";
}

Environment process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

LaunchInfo launch_from_environment(const Environment& env) {
  static const Names kLaunchers[] = {
      {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"},
      {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
      {"srun", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
  };
  LaunchInfo info;
  for (auto names : kLaunchers) {
    const bool slurm = std::string(names.launcher) == "srun";
    if (slurm && (env(names.rank) || env(names.size)) && !env("SLURM_STEP_ID")) {
      // A batch script's own command (no srun step): the job's variables, not a launch.
      info.note = "Slurm's job variables without a job step (no SLURM_STEP_ID): training as a single process; "
                  "start the workers with srun to train on the job's tasks";
      continue;
    }
    if (slurm && env("SLURM_STEP_NUM_TASKS")) names.size = "SLURM_STEP_NUM_TASKS";  // the step's, not the job's
    const auto rank = env(names.rank);
    const auto size = env(names.size);
    if (!rank && !size) continue;
    if (!rank || !size) {
      throw Error(std::string("the environment sets ") + (rank ? names.rank : names.size) + " but not " +
                  (rank ? names.size : names.rank) + "; a " + names.launcher +
                  " launch sets both (unset it to train as a single process)");
    }
    info.launcher = names.launcher;
    info.size_variable = names.size;
    info.rank = parse_count(names.rank, *rank, 0);
    info.world_size = parse_count(names.size, *size, 1);
    if (info.rank >= info.world_size) {
      throw Error(std::string(names.rank) + "=" + *rank + " is not below " + names.size + "=" + *size +
                  ": ranks run from 0 to the world size - 1");
    }
    const auto local = env(names.local_rank);
    info.local_rank = local ? parse_count(names.local_rank, *local, 0) : 0;
    break;
  }
  if (info.launcher.empty() || info.world_size == 1) {
    LaunchInfo single;
    single.launcher = info.launcher;
    single.size_variable = info.size_variable;
    single.note = info.note;
    return single;
  }
  if (const auto own = env("TANDEM_LAUNCHER")) info.launcher = *own;
  if (const auto file = env("TANDEM_STORE_FILE")) info.store_file = *file;
  const auto addr = env("MASTER_ADDR");
  if (addr && !addr->empty()) {
    info.master_addr = *addr;
  } else if (const auto slurm_node = env("SLURM_LAUNCH_NODE_IPADDR"); slurm_node && info.launcher == "srun") {
    info.master_addr = *slurm_node;
  } else {
    throw Error("MASTER_ADDR is not set: the workers meet at rank 0's host; set MASTER_ADDR (and MASTER_PORT) "
                "for every worker, as torchrun does");
  }
  const auto port = env("MASTER_PORT");
  if (port && !port->empty()) {
    const int64_t value = parse_count("MASTER_PORT", *port, 1);
    if (value > 65535) throw Error("MASTER_PORT=" + *port + " is not a TCP port (1 to 65535)");
    info.master_port = static_cast<int>(value);
  } else if (info.launcher == "mpirun" || info.launcher == "srun") {
    info.master_port = 29500;
  } else {
    throw Error("MASTER_PORT is not set: the workers meet on this port of MASTER_ADDR; set it for every worker");
  }
  return info;
}

}  // namespace tandem::dist
