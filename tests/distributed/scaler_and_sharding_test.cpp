// tests/distributed/scaler_and_sharding_test.cpp: on the ranks of the job (run with 2):
//   - GradScaler: an inf gradient on ONE rank makes EVERY rank skip the step and back off the
//     scale, because the gradients are averaged before they are unscaled;
//   - data::DistributedSampler deals disjoint, equal shards (checked across ranks with a
//     histogram all-reduce), padding by wrapping when the dataset does not divide;
//   - reduce_metrics sums counts and takes the slowest rank's time.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "autograd/functions.h"
#include "data/sampler.h"
#include "nn/amp/grad_scaler.h"
#include "nn/distributed/ddp.h"
#include "nn/distributed/metrics.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/optim/sgd.h"
#include "tensor/ops.h"
#include "tests/distributed/mpi_test_main.h"

using namespace loom;
using namespace loom::nn;
using namespace loom::nn::distributed;
using loom::test::comm;

namespace {

// How many times each of rows 0..n-1 appears in `shard`, as doubles for the all-reduce.
std::vector<double> histogram(const std::vector<int64_t>& shard, int64_t n) {
  std::vector<double> h(static_cast<std::size_t>(n), 0.0);
  for (int64_t row : shard)
    h.at(static_cast<std::size_t>(row)) += 1;
  return h;
}

}  // namespace

TEST(DdpGradScaler, AnInfOnOneRankSkipsTheStepOnEveryRank) {
  Generator gen(5);
  Linear model(LinearOptions(3, 1), gen);  // float32, as fp16 training's master weights
  DistributedDataParallel ddp(comm(), model.named_parameters());
  optim::SGD opt(model.named_parameters(), optim::SGDOptions(0.1));
  amp::GradScaler scaler(amp::GradScalerOptions().init_scale(1024));
  const Tensor x = rand({4, 3}, gen), y = lt(rand({4, 1}, gen), 0.5).to(DType::Float32);
  const Tensor w_before = model.named_parameters()[0].second.data().clone();

  // Step 1: rank 1 (the last rank) overflows; the others' gradients are finite.
  opt.zero_grad();
  scaler.scale(bce_with_logits(model.forward(Variable(x)), y)).backward();
  const Variable weight = model.named_parameters()[0].second;  // a handle (copy), not a reference
  const bool overflow_here = comm().rank() == comm().world_size() - 1;
  if (overflow_here) weight.grad().narrow(1, 0, 1).fill_(std::numeric_limits<double>::infinity());
  if (comm().rank() == 0 && comm().world_size() > 1) {
    const std::vector<float> g = weight.grad().to_vector<float>();
    EXPECT_TRUE(std::isfinite(g[0])) << "rank 0's own gradient is finite: the skip must come "
                                        "from the all-reduce";
  }
  ddp.all_reduce_gradients();
  const bool stepped = scaler.step(opt);
  scaler.update();
  EXPECT_FALSE(stepped);
  EXPECT_EQ(scaler.scale_value(), 512.0);
  EXPECT_EQ(scaler.skipped_steps(), 1);
  EXPECT_EQ(weight.data().to_vector<float>(), w_before.to_vector<float>());

  // Step 2: clean everywhere: every rank steps, and the ranks stay identical.
  opt.zero_grad();
  scaler.scale(bce_with_logits(model.forward(Variable(x)), y)).backward();
  ddp.all_reduce_gradients();
  EXPECT_TRUE(scaler.step(opt));
  scaler.update();
  const Tensor root_weight = weight.data().clone();
  comm().broadcast(root_weight, 0);
  EXPECT_EQ(root_weight.to_vector<float>(), weight.data().to_vector<float>());
  EXPECT_NE(weight.data().to_vector<float>(), w_before.to_vector<float>());
}

TEST(Sharding, DistributedSamplerShardsAreDisjointAndEqual) {
  const int rank = comm().rank(), world = comm().world_size();
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    // n divisible by the world: every row exactly once across ranks.
    const int64_t n = 10 * world;
    const data::DistributedSampler sampler(n, rank, world, /*shuffle=*/true, 42);
    const std::vector<int64_t> mine = sampler.indices(epoch);
    EXPECT_EQ(static_cast<int64_t>(mine.size()), n / world);
    const std::vector<double> seen = comm().all_reduce_sum(histogram(mine, n));
    EXPECT_EQ(seen, std::vector<double>(static_cast<std::size_t>(n), 1.0)) << "epoch " << epoch;
  }
  // n not divisible: every rank still gets ceil(n / world) rows (equal steps per epoch), every
  // row is seen, and exactly (padded - n) rows are seen twice (the wrap-around padding).
  const int64_t n = 7;
  const data::DistributedSampler sampler(n, rank, world, /*shuffle=*/true, 42);
  const std::vector<int64_t> mine = sampler.indices(0);
  const std::vector<double> sizes = comm().all_reduce_max({static_cast<double>(mine.size())});
  EXPECT_EQ(static_cast<int64_t>(mine.size()), (n + world - 1) / world);
  EXPECT_EQ(sizes[0], static_cast<double>(mine.size()));
  const std::vector<double> seen = comm().all_reduce_sum(histogram(mine, n));
  double total = 0, twice = 0;
  for (double s : seen) {
    EXPECT_GE(s, 1.0);
    total += s;
    twice += s == 2.0;
  }
  const int64_t padded = (n + world - 1) / world * world;
  EXPECT_EQ(total, static_cast<double>(padded));
  EXPECT_EQ(twice, static_cast<double>(padded - n));
}

TEST(Metrics, ReduceSumsCountsAndTakesTheSlowestTime) {
  const int r = comm().rank(), w = comm().world_size();
  MetricTotals mine;
  mine.add_batch(/*mean_loss=*/1.0 + r, /*batch_size=*/2, /*num_correct=*/1);
  mine.time_s = 10.0 + r;
  mine.data_time_s = 1.0 * (w - r);
  const MetricTotals all = reduce_metrics(comm(), mine);
  double loss_sum = 0;
  for (int k = 0; k < w; ++k)
    loss_sum += 2.0 * (1.0 + k);
  EXPECT_EQ(all.count, 2.0 * w);
  EXPECT_EQ(all.correct, 1.0 * w);
  EXPECT_DOUBLE_EQ(all.mean_loss(), loss_sum / (2.0 * w));
  EXPECT_DOUBLE_EQ(all.accuracy(), 0.5);
  EXPECT_EQ(all.time_s, 10.0 + (w - 1));
  EXPECT_EQ(all.data_time_s, 1.0 * w);
}
