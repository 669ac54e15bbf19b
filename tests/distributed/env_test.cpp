// tests/distributed/env_test.cpp: ProcessInfo from each launcher's variables, their precedence,
// and malformed values (no MPI: plain unit tests).
#include <gtest/gtest.h>

#include "nn/distributed/env.h"
#include "tests/common/error_of.h"

using loom::nn::distributed::gpu_for_local_rank;
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
