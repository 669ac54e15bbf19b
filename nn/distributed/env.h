// nn/distributed/env.h: who am I? Rank, world size and local rank, read from the launcher's
// environment variables, before (and without) starting MPI.
//
// Launchers, in the order they are looked for (the first whose variables are present wins, as
// launchers nest: mpirun inside a Slurm job still sees SLURM_*):
//   "openmpi"  mpirun / mpiexec: OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK, _LOCAL_SIZE
//   "slurm"    an srun step (SLURM_STEP_ID set: a batch script's own shell is one process):
//              SLURM_PROCID, SLURM_STEP_NUM_TASKS or SLURM_NTASKS, SLURM_LOCALID, local size
//              from SLURM_NTASKS_PER_NODE or this node's entry of SLURM_*TASKS_PER_NODE
//   "pmix"     another PMIx launcher (prterun): PMIX_RANK; world size 0 until MPI says
//   "env"      torchrun-style RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE
//   "none"     none of the above: rank 0 of 1 (a single-process run never starts MPI)
// A present but malformed variable throws loom::Error naming it and its value. What MPI then
// says is checked against this (docs/labs/09-distributed.md, section 7).
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
