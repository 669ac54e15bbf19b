// tests/distributed/env_test.cpp: ProcessInfo from each launcher's variables, their precedence,
// and malformed values (no MPI: plain unit tests).
#include <gtest/gtest.h>

#include "nn/distributed/env.h"
#include "tests/common/error_of.h"

using loom::nn::distributed::gpu_for_local_rank;
using loom::nn::distributed::mpi_launch_problem;
using loom::nn::distributed::process_info_from_env;
using loom::nn::distributed::ProcessInfo;
using loom::nn::distributed::slurm_tasks_on_node;
using loom::test::error_of;
using Vars = std::map<std::string, std::string>;

namespace {

void expect_info(const ProcessInfo& p, int rank, int world, int local_rank, int local_size,
                 const std::string& launcher) {
  EXPECT_EQ(p.rank, rank);
  EXPECT_EQ(p.world_size, world);
  EXPECT_EQ(p.local_rank, local_rank);
  EXPECT_EQ(p.local_size, local_size);
  EXPECT_EQ(p.launcher, launcher);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST(Env, NoLauncherIsRankZeroOfOne) {
  const ProcessInfo p = process_info_from_env(Vars{});
  expect_info(p, 0, 1, 0, 1, "none");
  EXPECT_FALSE(p.distributed());
}

TEST(Env, OpenMpi) {
  const ProcessInfo p = process_info_from_env(Vars{{"OMPI_COMM_WORLD_RANK", "5"},
                                                   {"OMPI_COMM_WORLD_SIZE", "8"},
                                                   {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                                                   {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}});
  expect_info(p, 5, 8, 1, 4, "openmpi");
  EXPECT_TRUE(p.distributed());
  EXPECT_EQ(p.str(), "rank 5 of 8 (local 1 of 4, launcher openmpi)");
}

TEST(Env, OpenMpiWinsOverTheSlurmJobAroundIt) {
  // mpirun inside an sbatch allocation: the job step's SLURM_* describe mpirun, not the ranks.
  const ProcessInfo p = process_info_from_env(Vars{{"OMPI_COMM_WORLD_RANK", "1"},
                                                   {"OMPI_COMM_WORLD_SIZE", "2"},
                                                   {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                                                   {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
                                                   {"SLURM_PROCID", "0"},
                                                   {"SLURM_NTASKS", "1"},
                                                   {"SLURM_STEP_ID", "0"},
                                                   {"RANK", "7"},
                                                   {"WORLD_SIZE", "9"}});
  expect_info(p, 1, 2, 1, 2, "openmpi");
}

TEST(Env, SlurmStepWithTasksPerNode) {
  // srun -N 3 -n 11: 4 tasks on nodes 0 and 1, 3 on node 2; this task is on node 2.
  const ProcessInfo p = process_info_from_env(Vars{{"SLURM_PROCID", "9"},
                                                   {"SLURM_STEP_ID", "0"},
                                                   {"SLURM_NTASKS", "11"},
                                                   {"SLURM_LOCALID", "1"},
                                                   {"SLURM_NODEID", "2"},
                                                   {"SLURM_TASKS_PER_NODE", "4(x2),3"}});
  expect_info(p, 9, 11, 1, 3, "slurm");
}

TEST(Env, SlurmPrefersTheStepsCounts) {
  // srun -n 2 inside a 4-task allocation: the step's variables describe this launch.
  const ProcessInfo p = process_info_from_env(Vars{{"SLURM_PROCID", "1"},
                                                   {"SLURM_STEP_ID", "3"},
                                                   {"SLURM_NTASKS", "4"},
                                                   {"SLURM_STEP_NUM_TASKS", "2"},
                                                   {"SLURM_LOCALID", "1"},
                                                   {"SLURM_TASKS_PER_NODE", "4"},
                                                   {"SLURM_STEP_TASKS_PER_NODE", "2"}});
  expect_info(p, 1, 2, 1, 2, "slurm");
}

TEST(Env, SlurmNtasksPerNode) {
  const ProcessInfo p = process_info_from_env(Vars{{"SLURM_PROCID", "3"},
                                                   {"SLURM_STEP_ID", "0"},
                                                   {"SLURM_NTASKS", "4"},
                                                   {"SLURM_LOCALID", "1"},
                                                   {"SLURM_NTASKS_PER_NODE", "2"}});
  expect_info(p, 3, 4, 1, 2, "slurm");
}

TEST(Env, SlurmBatchShellIsOneProcess) {
  // The batch script itself (no srun step) sees SLURM_PROCID=0 and the job's task count.
  const ProcessInfo p = process_info_from_env(
      Vars{{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "0"}});
  expect_info(p, 0, 1, 0, 1, "none");
}

TEST(Env, PmixGivesTheRankOnly) {
  const ProcessInfo p = process_info_from_env(Vars{{"PMIX_RANK", "3"}});
  EXPECT_EQ(p.launcher, "pmix");
  EXPECT_EQ(p.rank, 3);
  EXPECT_EQ(p.world_size, 0);  // unknown until MPI starts
  EXPECT_TRUE(p.distributed());
}

TEST(Env, TorchrunStyle) {
  expect_info(
      process_info_from_env(
          Vars{{"RANK", "2"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "0"}, {"LOCAL_WORLD_SIZE", "2"}}),
      2, 4, 0, 2, "env");
  // Without the local pair: one node assumed.
  expect_info(process_info_from_env(Vars{{"RANK", "1"}, {"WORLD_SIZE", "3"}}), 1, 3, 1, 3, "env");
}

TEST(Env, MalformedValuesNameTheVariable) {
  const std::string not_a_number = error_of([] {
    process_info_from_env(Vars{{"OMPI_COMM_WORLD_RANK", "one"}, {"OMPI_COMM_WORLD_SIZE", "2"}});
  });
  EXPECT_TRUE(contains(not_a_number, "OMPI_COMM_WORLD_RANK='one'")) << not_a_number;

  for (const char* bad : {"-1", "", "2x", " 2", "99999999999"}) {
    const std::string msg = error_of([&] {
      process_info_from_env(Vars{{"RANK", "0"}, {"WORLD_SIZE", bad}});
    });
    EXPECT_TRUE(contains(msg, std::string("WORLD_SIZE='") + bad + "'")) << msg;
  }
  const std::string rank_too_big = error_of([] {
    process_info_from_env(
        Vars{{"SLURM_PROCID", "4"}, {"SLURM_STEP_ID", "0"}, {"SLURM_NTASKS", "4"}});
  });
  EXPECT_TRUE(contains(rank_too_big, "rank 4 is not below the world size 4")) << rank_too_big;

  const std::string missing_size = error_of([] {
    process_info_from_env(Vars{{"OMPI_COMM_WORLD_RANK", "0"}});
  });
  EXPECT_TRUE(contains(missing_size, "OMPI_COMM_WORLD_SIZE is not")) << missing_size;

  const std::string local = error_of([] {
    process_info_from_env(
        Vars{{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "2"}, {"LOCAL_WORLD_SIZE", "2"}});
  });
  EXPECT_TRUE(contains(local, "local rank 2 is not below the local size 2")) << local;

  const std::string world_only = error_of([] { process_info_from_env(Vars{{"WORLD_SIZE", "2"}}); });
  EXPECT_TRUE(contains(world_only, "RANK is not")) << world_only;
}

// What `srun -n 2` sets on rank 1 (Slurm 22.05), with and without --mpi=pmix / --mpi=pmi2.
Vars srun_two(const Vars& plugin_vars) {
  Vars v{{"SLURM_PROCID", "1"},
         {"SLURM_STEP_ID", "0"},
         {"SLURM_STEP_NUM_TASKS", "2"},
         {"SLURM_NTASKS", "2"},
         {"SLURM_LOCALID", "1"},
         {"SLURM_NODEID", "0"},
         {"SLURM_STEP_TASKS_PER_NODE", "2"}};
  v.insert(plugin_vars.begin(), plugin_vars.end());
  return v;
}

TEST(Env, PmiSaysHowMpiFindsTheOtherProcesses) {
  EXPECT_EQ(process_info_from_env(Vars{}).pmi, "");
  EXPECT_EQ(process_info_from_env(srun_two({})).pmi, "");
  EXPECT_EQ(process_info_from_env(srun_two({{"PMIX_RANK", "1"}})).pmi, "pmix");
  EXPECT_EQ(process_info_from_env(srun_two({{"PMI_RANK", "1"}, {"PMI_FD", "11"}})).pmi, "pmi");
  // mpirun (Open MPI 4) sets PMIX_RANK next to its own variables.
  const ProcessInfo mpirun = process_info_from_env(
      Vars{{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "2"}, {"PMIX_RANK", "0"}});
  EXPECT_EQ(mpirun.pmi, "pmix");
}

// Plain srun (no MPI plugin) with Open MPI: MPI_Init would stop every task with Open MPI's
// message about its build; loom names the launch instead, before MPI starts.
TEST(Env, SrunWithoutAnMpiPluginIsAProblemForOpenMpiOnly) {
  const std::string plain = mpi_launch_problem(process_info_from_env(srun_two({})), true);
  EXPECT_TRUE(contains(plain, "srun started 2 tasks without an MPI plugin")) << plain;
  EXPECT_TRUE(contains(plain, "srun --mpi=pmix")) << plain;
  // MPICH with Slurm's PMI-1 library starts under plain srun: not flagged.
  EXPECT_EQ(mpi_launch_problem(process_info_from_env(srun_two({})), false), "");
  // With a plugin, under mpirun, one task, or no launcher: nothing to say.
  EXPECT_EQ(mpi_launch_problem(process_info_from_env(srun_two({{"PMIX_RANK", "1"}})), true), "");
  EXPECT_EQ(mpi_launch_problem(process_info_from_env(srun_two({{"PMI_RANK", "1"}})), true), "");
  const ProcessInfo one = process_info_from_env(
      Vars{{"SLURM_PROCID", "0"}, {"SLURM_STEP_ID", "0"}, {"SLURM_STEP_NUM_TASKS", "1"}});
  EXPECT_EQ(one.launcher, "slurm");
  EXPECT_EQ(mpi_launch_problem(one, true), "");
  EXPECT_EQ(mpi_launch_problem(ProcessInfo{}, true), "");
  const ProcessInfo mpirun = process_info_from_env(
      Vars{{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}, {"PMIX_RANK", "1"}});
  EXPECT_EQ(mpi_launch_problem(mpirun, true), "");
  // This build links Debian's Open MPI (tests/distributed/CMakeLists.txt finds it).
  EXPECT_TRUE(loom::nn::distributed::linked_with_open_mpi());
}

// One GPU per process, whether the launcher shows each process all of the node's GPUs or only
// its own (CUDA_VISIBLE_DEVICES per task, as `srun --gpus-per-task=1` sets).
TEST(Env, GpuForLocalRank) {
  EXPECT_EQ(gpu_for_local_rank(0, 4, 4), 0);
  EXPECT_EQ(gpu_for_local_rank(3, 4, 4), 3);
  EXPECT_EQ(gpu_for_local_rank(1, 2, 8), 1);  // more GPUs than processes: the first ones
  EXPECT_EQ(gpu_for_local_rank(3, 4, 1), 0);  // each process sees only its own GPU
  EXPECT_EQ(gpu_for_local_rank(0, 1, 1), 0);
  EXPECT_EQ(gpu_for_local_rank(2, 4, 2), -1);  // fewer GPUs than processes
  EXPECT_EQ(gpu_for_local_rank(0, 2, 0), -1);  // no GPU at all
}

TEST(Env, SlurmTasksPerNodeText) {
  EXPECT_EQ(slurm_tasks_on_node("2", 0, "V"), 2);
  EXPECT_EQ(slurm_tasks_on_node("4(x2),3", 0, "V"), 4);
  EXPECT_EQ(slurm_tasks_on_node("4(x2),3", 1, "V"), 4);
  EXPECT_EQ(slurm_tasks_on_node("4(x2),3", 2, "V"), 3);
  EXPECT_EQ(slurm_tasks_on_node("2,1,5(x3)", 4, "V"), 5);
  const std::string past = error_of([] { slurm_tasks_on_node("4(x2),3", 3, "SLURM_X"); });
  EXPECT_TRUE(contains(past, "SLURM_X='4(x2),3' describes 3 node(s)")) << past;
  // Node 1 makes the parser read past the first entry.
  for (const char* bad : {"", "4(x", "4(2)", "a", "4(x0)", "0", "3,,2", "3,4(x2"}) {
    const std::string msg = error_of([&] { slurm_tasks_on_node(bad, 1, "SLURM_X"); });
    EXPECT_TRUE(contains(msg, "SLURM_X")) << bad << ": " << msg;
  }
}
