// nn/distributed/env.h: who am I? Rank, world size and local rank, read from the launcher's
// environment variables, before (and without) starting MPI.
//
// Launchers, in the order they are looked for (the first one whose variables are present wins;
// the order matters because launchers nest: mpirun inside a Slurm job still sees SLURM_*):
//   "openmpi"  mpirun / mpiexec of Open MPI: OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK, _LOCAL_SIZE
//   "slurm"    srun (a job step): SLURM_PROCID, SLURM_STEP_NUM_TASKS or SLURM_NTASKS,
//   SLURM_LOCALID,
//              local size from SLURM_NTASKS_PER_NODE or the node's entry of
//              SLURM_STEP_TASKS_PER_NODE / SLURM_TASKS_PER_NODE ("4(x2),3": 4 on nodes 0-1, 3 on 2)
//              picked by SLURM_NODEID. Needs SLURM_STEP_ID: a batch script's own shell has
//              SLURM_PROCID=0 and SLURM_NTASKS=N too, but it is one process, not N.
//   "pmix"     another PMIx launcher (prterun): PMIX_RANK; the world size is not in the
//              environment (world_size = 0: MpiCommunicator fills it in)
//   "env"      torchrun-style variables: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE
//   "none"     none of the above: rank 0 of 1. A single-process run never starts MPI.
// A variable that is present but malformed (not a number, negative, rank >= size) throws
// loom::Error naming the variable and its value; a launcher is never silently skipped.
//
// This is what the launcher *says*. MpiCommunicator asks MPI itself after MPI_Init and checks the
// two agree. srun without an MPI plugin (--mpi=none, Slurm's usual default) gives each task no
// way to find the others: Open MPI then stops in MPI_Init with a message about how it was built,
// other MPIs may start N independent one-process jobs (caught by that check).
// mpi_launch_problem() names the first case before MPI_Init runs (checked with Slurm 22.05 and
// Open MPI 4.1.4: docs/results/slurm-local-cpu.md).
// Leaves out: hostnames, GPUs per node (the CUDA device is local_rank; set CUDA_VISIBLE_DEVICES
// per rank to map differently), LSF/PBS launchers.
#pragma once

#include <functional>
#include <map>
#include <string>

namespace loom::nn::distributed {

struct ProcessInfo {
  int rank = 0;                   // 0 <= rank < world_size
  int world_size = 1;             // processes in the job; 0 = unknown until MPI starts ("pmix")
  int local_rank = 0;             // index among the processes on this node (picks the GPU)
  int local_size = 1;             // processes on this node
  std::string launcher = "none";  // "openmpi", "slurm", "pmix", "env" or "none"
  // How MPI inside this process can find the others: "pmix" (PMIX_RANK is set: Open MPI's
  // mpirun, srun --mpi=pmix, prterun), "pmi" (PMI_RANK or PMI_FD: srun --mpi=pmi2, MPICH's
  // mpiexec) or "" (neither: a process on its own, or srun without an MPI plugin).
  std::string pmi;

  // True when the launcher started (or may have started) more than one process.
  bool distributed() const { return world_size != 1; }
  // "rank 1 of 4 (local 1 of 2, launcher openmpi)".
  std::string str() const;
};

// Looks up one environment variable: its value, or nullptr when unset.
using EnvLookup = std::function<const char*(const char* name)>;

// Reads the process's environment (std::getenv).
ProcessInfo process_info_from_env();
// The same from any lookup (tests, or a wrapper that filters variables).
ProcessInfo process_info_from_env(const EnvLookup& getenv);
// The same from a map of variables (tests): process_info_from_env({{"SLURM_PROCID", "1"}, ...}).
ProcessInfo process_info_from_env(const std::map<std::string, std::string>& vars);

// True when this build links Open MPI (mpi.h defines OPEN_MPI).
bool linked_with_open_mpi();

// Why the MPI library cannot join the processes `p` describes into one job, known before
// MPI_Init tries; "" when nothing is known to be wrong. One case: srun started several tasks
// without an MPI plugin (p.pmi empty) and the MPI is Open MPI, whose MPI_Init then stops every
// task ("OMPI was not built with SLURM's PMI support"). Only Open MPI's: MPICH linked with
// Slurm's PMI-1 library starts under plain srun (Slurm's MPI guide; not tried here). The
// message says to use srun --mpi=pmix.
std::string mpi_launch_problem(const ProcessInfo& p, bool open_mpi = linked_with_open_mpi());

// How many tasks SLURM_TASKS_PER_NODE-style text gives node `node`: "2", "4(x2),3", "2,1".
// Throws loom::Error naming `variable` on malformed text or a node past the list.
int slurm_tasks_on_node(const std::string& text, int node, const char* variable);

// Which of the `visible` GPUs the process with this local rank uses (one GPU per process):
//   - visible >= local_size: cuda:<local rank> (every process sees all of the node's GPUs, as
//     with mpirun or `srun --gres=gpu:4`);
//   - visible == 1: cuda:0 (the launcher gave each process its own GPU through
//     CUDA_VISIBLE_DEVICES, as `srun --gpus-per-task=1` does);
//   - otherwise -1: fewer GPUs than processes on this node (the caller reports it).
int gpu_for_local_rank(int local_rank, int local_size, int visible);

}  // namespace loom::nn::distributed
