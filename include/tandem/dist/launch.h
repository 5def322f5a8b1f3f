// Launch: which worker this process is, from the variables its launcher set.
//
// Usage:
//   const tandem::dist::LaunchInfo launch = tandem::dist::launch_from_environment();
//   if (launch.world_size > 1) { /* connect a Communicator */ }
//
// Read in this order, the first launcher whose variables are set wins:
//   torchrun  RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT
//   mpirun    OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK (Open MPI)
//   srun      SLURM_PROCID, SLURM_STEP_NUM_TASKS (else SLURM_NTASKS), SLURM_LOCALID
//             (Slurm), only inside a job step (SLURM_STEP_ID set): a batch script's
//             plain command also sees SLURM_PROCID and SLURM_NTASKS, of the job, and
//             stays a single process (with a note saying so)
// With mpirun and srun the rendezvous still comes from MASTER_ADDR and MASTER_PORT
// (as PyTorch's own scripts do); srun's MASTER_ADDR defaults to
// SLURM_LAUNCH_NODE_IPADDR and both launchers' MASTER_PORT to 29500.
// With none of these set the process is the single worker (rank 0 of 1).
// tandem-train --num-processes sets torchrun's variables and TANDEM_STORE_FILE
// (a file in a folder of its own), so its workers listen on no public port.
// Missing or malformed values are a tandem::Error naming the variable.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace tandem::dist {

struct LaunchInfo {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;
  std::string master_addr;  ///< host of rank 0, which serves the rendezvous store
  int master_port = 0;
  std::string launcher;  ///< "torchrun", "mpirun", "srun", "tandem-train" or "" (a single process)
  std::string size_variable;  ///< the variable the world size came from ("WORLD_SIZE", ...); empty without a launcher
  std::string note;  ///< a line for the user about how the variables were read (Slurm without a step), or empty
  /// The rendezvous file of workers on one machine (TANDEM_STORE_FILE, set by
  /// tandem-train --num-processes): they meet there instead of on a TCP port.
  std::string store_file;

  bool distributed() const { return world_size > 1; }
  /// "rank 1 of 4 (torchrun, master 10.0.0.1:29500)".
  std::string describe() const;
};

/// Looks a variable up; the default reads the process environment.
using Environment = std::function<std::optional<std::string>(const std::string&)>;
Environment process_environment();

LaunchInfo launch_from_environment(const Environment& environment = process_environment());

}  // namespace tandem::dist
