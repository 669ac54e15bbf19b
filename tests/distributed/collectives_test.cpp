// tests/distributed/collectives_test.cpp: MpiCommunicator on every rank of the job (run with
// 2): all-reduce, mean, broadcast, host values, barrier, argument checks, and the check that MPI
// and the launcher agree.
#include <gtest/gtest.h>

#include <numeric>

#include "nn/distributed/env.h"
#include "tests/common/error_of.h"
#include "tests/distributed/mpi_test_main.h"

using namespace loom;
using namespace loom::nn::distributed;
using loom::test::comm;
using loom::test::error_of;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Rank r holds x[i] = (r + 1) * i + 0.25: sums and means are exact in float32 for these sizes.
Tensor rank_values(int64_t n, DType dtype) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = (comm().rank() + 1) * static_cast<double>(i) + 0.25;
  return tensor(v, {n}, dtype);
}

// sum over r of ((r + 1) * i + 0.25) = i * W(W+1)/2 + 0.25 W.
double expected_sum(int64_t i) {
  const double w = comm().world_size();
  return static_cast<double>(i) * w * (w + 1) / 2 + 0.25 * w;
}

class Collectives : public ::testing::TestWithParam<DType> {};

}  // namespace

TEST(Mpi, AgreesWithTheLauncher) {
  const ProcessInfo env = process_info_from_env();
  // CI starts this program with mpiexec; it also runs under `srun --mpi=pmix -n 2`
  // (docs/results/slurm-local-cpu.md).
  EXPECT_TRUE(env.launcher == "openmpi" || env.launcher == "slurm") << env.launcher;
  EXPECT_EQ(comm().rank(), env.rank);
  EXPECT_EQ(comm().world_size(), env.world_size);
  // One node in CI: MPI's shared-memory split gives the same local numbers as Open MPI's env.
  EXPECT_EQ(comm().local_rank(), env.local_rank);
  EXPECT_EQ(comm().local_size(), env.local_size);
}

TEST(Mpi, ALauncherThatDisagreesWithMpiIsAnError) {
  // What plain `srun` without --mpi=pmix looks like from inside: the environment promises a
  // world MPI does not see. Every rank throws, so nobody is left waiting.
  ProcessInfo wrong = process_info_from_env();
  wrong.world_size = comm().world_size() + 1;
  wrong.local_size = wrong.world_size;
  const std::string msg = error_of([&] { MpiCommunicator c(wrong); });
  EXPECT_TRUE(contains(msg, "disagree")) << msg;
  EXPECT_TRUE(contains(msg, "srun --mpi=pmix")) << msg;
}

TEST_P(Collectives, AllReduceSumOddSizes) {
  for (int64_t n : {1, 7, 1001}) {
    const Tensor t = rank_values(n, GetParam());
    comm().all_reduce_sum(t);
    const std::vector<double> got = t.to_vector<double>();
    int64_t wrong = 0;  // counted, not ASSERTed: every rank must reach the next collective
    for (int64_t i = 0; i < n; ++i)
      wrong += got[static_cast<std::size_t>(i)] != expected_sum(i);
    EXPECT_EQ(wrong, 0) << "n " << n;
  }
}

TEST_P(Collectives, AllReduceThroughAViewWritesTheStorage) {
  // A contiguous narrow() view: the reduction must land in the base tensor's storage.
  const Tensor base = zeros({3, 4}, GetParam());
  const Tensor row = base.narrow(0, 1, 1);
  row.fill_(comm().rank() + 1.0);
  comm().all_reduce_sum(row);
  const double w = comm().world_size();
  const std::vector<double> got = base.to_vector<double>();
  for (int64_t i = 0; i < 12; ++i)
    EXPECT_EQ(got[static_cast<std::size_t>(i)], (i >= 4 && i < 8) ? w * (w + 1) / 2 : 0.0) << i;
}

TEST_P(Collectives, AllReduceMeanAndEmpty) {
  const Tensor t = rank_values(5, GetParam());
  comm().all_reduce_mean(t);
  const std::vector<double> got = t.to_vector<double>();
  for (int64_t i = 0; i < 5; ++i)
    EXPECT_DOUBLE_EQ(got[static_cast<std::size_t>(i)], expected_sum(i) / comm().world_size());
  const Tensor empty_t = zeros({0, 3}, GetParam());
  comm().all_reduce_sum(empty_t);  // nothing to send, must not hang or throw
  comm().broadcast(empty_t, 0);
  EXPECT_EQ(empty_t.numel(), 0);
}

TEST_P(Collectives, BroadcastFromEveryRoot) {
  for (int root = 0; root < comm().world_size(); ++root) {
    const Tensor t = rank_values(33, GetParam());
    comm().broadcast(t, root);
    const std::vector<double> got = t.to_vector<double>();
    int64_t wrong = 0;
    for (int64_t i = 0; i < 33; ++i)
      wrong += got[static_cast<std::size_t>(i)] != (root + 1) * static_cast<double>(i) + 0.25;
    EXPECT_EQ(wrong, 0) << "root " << root;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Collectives, ::testing::Values(DType::Float32, DType::Float64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Mpi, HostValues) {
  const double r = comm().rank();
  const std::vector<double> sums = comm().all_reduce_sum({r, 1.0, -r * 0.5});
  const double w = comm().world_size();
  const double rank_sum = w * (w - 1) / 2;
  EXPECT_EQ(sums, (std::vector<double>{rank_sum, w, -rank_sum * 0.5}));
  const std::vector<double> maxes = comm().all_reduce_max({r, -r});
  EXPECT_EQ(maxes, (std::vector<double>{w - 1, 0.0}));
  EXPECT_TRUE(comm().all_reduce_sum(std::vector<double>{}).empty());
  comm().barrier();
}

TEST(Mpi, BadArgumentsThrowBeforeCommunicating) {
  // Same bad call on every rank: each throws locally, and the job goes on.
  const std::string ints = error_of([] { comm().all_reduce_sum(zeros({4}, DType::Int32)); });
  EXPECT_TRUE(contains(ints, "mpi all_reduce_sum")) << ints;
  EXPECT_TRUE(contains(ints, "int32")) << ints;
  const std::string half = error_of([] { comm().all_reduce_sum(zeros({4}, DType::Float16)); });
  EXPECT_TRUE(contains(half, "float16")) << half;
  const std::string view = error_of([] { comm().all_reduce_sum(zeros({3, 2}).t()); });
  EXPECT_TRUE(contains(view, "not contiguous")) << view;
  const std::string root = error_of([] { comm().broadcast(zeros({2}), comm().world_size()); });
  EXPECT_TRUE(contains(root, "is not a rank")) << root;
  // Still in step afterwards.
  EXPECT_EQ(comm().all_reduce_sum({1.0})[0], comm().world_size());
}
