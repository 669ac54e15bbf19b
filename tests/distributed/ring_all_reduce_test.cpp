// tests/distributed/ring_all_reduce_test.cpp: ring_all_reduce against MPI_Allreduce on every
// rank of the job (run with 2 and with 3 ranks): counts smaller than, equal to and not divisible
// by the number of ranks, exact sums, random values, and the argument checks.
#include <gtest/gtest.h>

#include <mpi.h>

#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "nn/distributed/ring_all_reduce.h"
#include "tests/common/error_of.h"

using loom::nn::distributed::ring_all_reduce;
using loom::test::error_of;

namespace {

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

// Runs ring_all_reduce and MPI_Allreduce on the same values; returns (ring, reference).
std::pair<std::vector<float>, std::vector<float>> both(const std::vector<float>& mine) {
  std::vector<float> ring = mine, ref(mine.size());
  ring_all_reduce(ring.data(), static_cast<int64_t>(ring.size()), MPI_COMM_WORLD);
  MPI_Allreduce(mine.data(), ref.data(), static_cast<int>(mine.size()), MPI_FLOAT, MPI_SUM,
                MPI_COMM_WORLD);
  return {ring, ref};
}

}  // namespace

// Small integers are exact in float32, so the ring's order of additions cannot matter.
TEST(Ring, ExactSumsForEveryChunking) {
  for (int64_t n : {0, 1, 2, 3, 5, 7, 64, 1001}) {
    std::vector<float> mine(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      mine[static_cast<size_t>(i)] = static_cast<float>((world_rank() + 1) * 1000 + i);
    const auto [ring, ref] = both(mine);
    EXPECT_EQ(ring, ref) << "count " << n;
  }
}

TEST(Ring, RandomValuesMatchAllreduce) {
  std::mt19937 gen(static_cast<unsigned>(17 + world_rank()));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> mine(4099);
  for (float& v : mine)
    v = normal(gen);
  const auto [ring, ref] = both(mine);
  for (size_t i = 0; i < mine.size(); ++i)
    ASSERT_NEAR(ring[i], ref[i], 1e-5f * (1.0f + std::abs(ref[i]))) << "element " << i;
}

TEST(Ring, RejectsBadArguments) {
  float x = 1.0f;
  EXPECT_NE(error_of([&] { ring_all_reduce(&x, -1, MPI_COMM_WORLD); }).find("count -1"),
            std::string::npos);
  EXPECT_NE(error_of([] { ring_all_reduce(nullptr, 4, MPI_COMM_WORLD); }).find("data is null"),
            std::string::npos);
}
