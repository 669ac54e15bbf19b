// tests/apps/imdb_dist_units_test.cpp: the data-parallel rules of apps/imdb/distributed.h that
// need no second process: how global batches are dealt out, validation shares, dropout seeds,
// threads per process, and which launches are refused (one process; no MPI started).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "apps/imdb/distributed.h"
#include "data/sampler.h"
#include "tests/common/error_of.h"

namespace loom::imdb {
namespace {

using loom::test::error_of;
using nn::distributed::ProcessInfo;

// Rows of a made-up training split (not 0..n-1, so the mapping through `rows` is exercised).
std::vector<int64_t> train_rows(int64_t n) {
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    rows[static_cast<size_t>(i)] = 1000 + 3 * i;
  return rows;
}

std::vector<int64_t> sorted(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<int64_t> slice(const std::vector<int64_t>& v, int64_t begin, int64_t len) {
  return {v.begin() + begin, v.begin() + begin + len};
}

struct ShardCase {
  int64_t n, batch;
  int world;
};
class ShardSamplerDeals : public ::testing::TestWithParam<ShardCase> {};

TEST_P(ShardSamplerDeals, TheRanksKthBatchesTogetherAreTheOneProcessKthBatch) {
  const auto [n, batch, world] = GetParam();
  const std::vector<int64_t> rows = train_rows(n);
  const ShardSampler one(rows, batch, 0, 1, /*seed=*/42);
  ASSERT_EQ(one.batches(), n / batch) << "drop_last: whole global batches only";
  for (int64_t epoch : {0, 1, 5}) {
    const std::vector<int64_t> global = one.indices(epoch);
    std::vector<std::vector<int64_t>> local(static_cast<size_t>(world));
    for (int r = 0; r < world; ++r) {
      const ShardSampler s(rows, batch, r, world, 42);
      EXPECT_EQ(s.local_batch(), batch / world);
      EXPECT_EQ(s.batches(), one.batches()) << "every rank runs the same number of steps";
      local[static_cast<size_t>(r)] = s.indices(epoch);
      ASSERT_EQ(static_cast<int64_t>(local[static_cast<size_t>(r)].size()),
                s.batches() * s.local_batch());
    }
    std::set<int64_t> seen;
    for (int64_t k = 0; k < one.batches(); ++k) {
      std::vector<int64_t> together;
      for (int r = 0; r < world; ++r) {
        const auto part = slice(local[static_cast<size_t>(r)], k * (batch / world), batch / world);
        together.insert(together.end(), part.begin(), part.end());
      }
      EXPECT_EQ(sorted(together), sorted(slice(global, k * batch, batch)))
          << "epoch " << epoch << ", batch " << k;
      seen.insert(together.begin(), together.end());
    }
    EXPECT_EQ(static_cast<int64_t>(seen.size()), one.batches() * batch)
        << "no row twice in an epoch (the sampler's padding is never reached)";
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, ShardSamplerDeals,
                         ::testing::Values(ShardCase{128, 16, 2},   // the test fixture
                                           ShardCase{199, 100, 2},  // padding would reach batch 2
                                           ShardCase{1000, 100, 4}, ShardCase{37, 6, 3},
                                           ShardCase{10, 10, 5}, ShardCase{50, 7, 1}));

TEST(ShardSampler, OneProcessIsTheSubsetSamplersOrderWithoutThePartialBatch) {
  // A 1-process run visits the rows in the order it did before data-parallelism was added
  // (same checkpoints, same results), only the final partial batch is left out.
  const std::vector<int64_t> rows = train_rows(57);
  const data::SubsetSampler subset(rows, /*shuffle=*/true, 9);
  const ShardSampler shard(rows, 10, 0, 1, 9);
  for (int64_t epoch : {0, 3})
    EXPECT_EQ(shard.indices(epoch), slice(subset.indices(epoch), 0, 50)) << epoch;
  EXPECT_NE(shard.indices(0), shard.indices(1)) << "reshuffled every epoch";
}

TEST(ShardSampler, BadBatchesNameTheFlagAndTheWorldSize) {
  const std::vector<int64_t> rows = train_rows(100);
  EXPECT_NE(error_of([&] {
              ShardSampler(rows, 15, 0, 2, 1);
            }).find("--batch 15 is the global batch and must split evenly over the 2 processes"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ShardSampler(rows, 101, 0, 1, 1); }).find("--batch 101"),
            std::string::npos);
}

TEST(StridedRows, SharesAreDisjointAndCoverEveryRow) {
  const std::vector<int64_t> rows = train_rows(11);
  std::vector<int64_t> all;
  for (int r = 0; r < 3; ++r) {
    const auto mine = strided_rows(rows, r, 3);
    EXPECT_EQ(mine.size(), r < 2 ? 4u : 3u);
    all.insert(all.end(), mine.begin(), mine.end());
  }
  EXPECT_EQ(sorted(all), rows);
  EXPECT_TRUE(strided_rows(rows, 15, 20).empty());  // more ranks than rows: an empty share
}

TEST(DropoutSeed, RankZeroKeepsTheSeedOthersDiffer) {
  EXPECT_EQ(dropout_seed(42, 0), 42u);
  std::set<uint64_t> seeds;
  for (int r = 0; r < 64; ++r)
    seeds.insert(dropout_seed(42, r));
  EXPECT_EQ(seeds.size(), 64u);
  EXPECT_NE(dropout_seed(42, 1), dropout_seed(43, 1));
}

TEST(ThreadsPerProcess, TypedCountWinsElseCoresAreShared) {
  EXPECT_EQ(threads_per_process(3, 8), 3);
  EXPECT_GE(threads_per_process(0, 1), 1);
  EXPECT_EQ(threads_per_process(0, 100000), 1);  // never 0
  EXPECT_LE(threads_per_process(0, 2), threads_per_process(0, 1));
}

ProcessInfo launched(int world) {
  ProcessInfo p;
  p.rank = 1;
  p.world_size = world;
  p.local_rank = 1;
  p.local_size = world;
  p.launcher = "openmpi";
  return p;
}

Request request(const std::string& command) {
  Request r;
  r.command = command;
  return r;
}

TEST(CheckLaunch, OneProcessMayRunAnything) {
  for (const char* cmd : {"train", "eval", "predict", "study", "export"})
    EXPECT_NO_THROW(check_launch(request(cmd), ProcessInfo{})) << cmd;
}

TEST(CheckLaunch, SeveralProcessesRunOnlyTrainAndSayWhy) {
  EXPECT_NO_THROW(check_launch(request("train"), launched(2)));
  EXPECT_NE(error_of([&] {
              check_launch(request("eval"), launched(2));
            }).find("imdb eval runs as one process, but this is rank 1 of 2"),
            std::string::npos);
  Request r = request("train");
  r.config.dist = "none";
  EXPECT_NE(error_of([&] { check_launch(r, launched(2)); }).find("--dist none"), std::string::npos);
  r = request("train");
  r.config.batch = 100;
  EXPECT_NE(error_of([&] {
              check_launch(r, launched(3));
            }).find("--batch 100 is the global batch and must split evenly over the 3"),
            std::string::npos);
  r.config.resume = true;  // the batch comes from the checkpoint: checked later
  EXPECT_NO_THROW(check_launch(r, launched(3)));
  r = request("train");
  r.config.device = "cuda:1";
  EXPECT_NE(error_of([&] { check_launch(r, launched(2)); }).find("pass --device cuda"),
            std::string::npos);
  r.config.device = "cuda";
  r.config.dist = "mpi";
  EXPECT_NE(error_of([&] { check_launch(r, launched(2)); }).find("--dist mpi carries CPU"),
            std::string::npos);
  r.config.device = "cpu";
  r.config.dist = "nccl";
  EXPECT_NE(error_of([&] { check_launch(r, launched(2)); }).find("--dist nccl carries GPU"),
            std::string::npos);
}

TEST(DataParallel, OneProcessWithoutALauncherNeverStartsMpi) {
  // auto with no launcher variables: the single-process communicator (ctest runs this without
  // mpirun). "none" is what the study uses for each variant.
  for (const char* name : {"auto", "none"}) {
    DataParallel p(name, "cpu");
    EXPECT_EQ(p.world_size(), 1);
    EXPECT_TRUE(p.is_root());
    EXPECT_STREQ(p.comm().backend_name(), "none");
    EXPECT_EQ(p.agree_on_stop(15), 15);
    EXPECT_NE(p.describe(100, 2).find("1 process, batch 100"), std::string::npos);
  }
}

}  // namespace
}  // namespace loom::imdb
