// tests/distributed/ddp_test.cpp: DistributedDataParallel on the ranks of the job (2, 4 or 8).
//
// The key test: a few SGD or Adam steps of Embedding -> fused LSTM -> Linear -> BCE, each rank
// on its 8/world rows of a global batch of 8 (rows dealt by data::DistributedSampler), give the
// same parameters (1e-6) as one process training on the whole batch. The one-process reference is
// computed inside the test, on every rank, from the same seed. Also: the initial broadcast,
// parameters without gradients, buckets, and a control showing the test can fail.
#include <gtest/gtest.h>

#include <memory>
#include <tuple>

#include "autograd/functions.h"
#include "data/sampler.h"
#include "nn/distributed/ddp.h"
#include "nn/losses.h"
#include "nn/optim/adam.h"
#include "nn/optim/sgd.h"
#include "tensor/ops.h"
#include "tests/distributed/mpi_test_main.h"

using namespace loom;
using namespace loom::nn;
using namespace loom::nn::distributed;
using loom::test::comm;
using loom::test::max_param_diff;
using loom::test::TinyLstmModel;

namespace {

constexpr int64_t kGlobalBatch = 8, kSeq = 5, kVocab = 20, kEmbed = 6, kHidden = 5;
constexpr int kSteps = 3;
constexpr uint64_t kShuffleSeed = 7;

enum class Opt { Sgd, Adam };

struct GlobalBatch {
  Tensor tokens;  // [8, T] Int64
  Tensor labels;  // [8, 1] of the model's dtype
};

GlobalBatch make_batch(DType dtype) {
  Generator gen(123);  // same data on every rank
  GlobalBatch b;
  b.tokens = uniform({kGlobalBatch, kSeq}, 0, kVocab - 0.5, gen).to(DType::Int64);
  b.labels = lt(rand({kGlobalBatch, 1}, gen), 0.5).to(dtype);
  return b;
}

std::unique_ptr<TinyLstmModel> make_model(uint64_t seed, DType dtype) {
  Generator gen(seed);
  auto model = std::make_unique<TinyLstmModel>(kVocab, kEmbed, kHidden, gen);
  model->to(dtype);
  return model;
}

std::unique_ptr<optim::Optimizer> make_optimizer(Opt kind, const Module& model) {
  if (kind == Opt::Sgd)
    return std::make_unique<optim::SGD>(model.named_parameters(),
                                        optim::SGDOptions(0.5).momentum(0.9));
  return std::make_unique<optim::Adam>(model.named_parameters(), optim::AdamOptions(0.05));
}

// `steps` training steps; at step s this process (rank of world) takes the rows that
// DistributedSampler deals it for "epoch" s. world = 1: the whole global batch.
void train(TinyLstmModel& model, optim::Optimizer& opt, const GlobalBatch& batch, int rank,
           int world, DistributedDataParallel* ddp) {
  const data::DistributedSampler sampler(kGlobalBatch, rank, world, /*shuffle=*/true, kShuffleSeed);
  for (int step = 0; step < kSteps; ++step) {
    const std::vector<int64_t> rows = sampler.indices(step);
    const Tensor index = from_vector<int64_t>(rows, {static_cast<int64_t>(rows.size())});
    const Tensor x = index_select(batch.tokens, 0, index);  // [8 / world, T]
    const Tensor y = index_select(batch.labels, 0, index);  // [8 / world, 1]
    opt.zero_grad();
    const Variable loss = bce_with_logits(model.forward(x), y);  // mean over this shard
    loss.backward();
    if (ddp != nullptr) ddp->all_reduce_gradients();
    opt.step();
  }
}

// True when every parameter is bit-identical to rank 0's copy (on every rank).
bool same_on_every_rank(const Module& model) {
  bool same = true;
  for (const auto& [name, p] : model.named_parameters()) {
    const Tensor root_copy = p.data().clone();
    comm().broadcast(root_copy, 0);
    same = same && root_copy.to_vector<double>() == p.data().to_vector<double>();
  }
  return same;
}

using Case = std::tuple<Opt, DType, int64_t>;  // optimizer, dtype, bucket bytes (0: one)
class DdpEquivalence : public ::testing::TestWithParam<Case> {};

}  // namespace

TEST_P(DdpEquivalence, RanksMatchOneProcessOnTheGlobalBatch) {
  const auto [opt_kind, dtype, bucket_bytes] = GetParam();
  ASSERT_EQ(kGlobalBatch % comm().world_size(), 0) << "equal shards need world | 8";
  const GlobalBatch batch = make_batch(dtype);

  // The reference: one process, the whole batch, from seed 1 (computed on every rank).
  const auto reference = make_model(1, dtype);
  const auto ref_opt = make_optimizer(opt_kind, *reference);
  const auto initial = make_model(1, dtype);

  // The data-parallel copy: every rank but 0 starts from other weights; the broadcast in
  // DistributedDataParallel's constructor must replace them by rank 0's (= the reference's).
  const auto model = make_model(1 + 1000 * static_cast<uint64_t>(comm().rank()), dtype);
  DistributedDataParallel ddp(comm(), model->named_parameters(),
                              DdpOptions().bucket_bytes(bucket_bytes));
  EXPECT_EQ(max_param_diff(*model, *reference), 0.0) << "broadcast from rank 0";
  const auto opt = make_optimizer(opt_kind, *model);

  train(*reference, *ref_opt, batch, 0, 1, nullptr);
  train(*model, *opt, batch, comm().rank(), comm().world_size(), &ddp);

  EXPECT_GT(max_param_diff(*reference, *initial), 1e-3) << "the steps must move the weights";
  EXPECT_LT(max_param_diff(*model, *reference), 1e-6);
  EXPECT_TRUE(same_on_every_rank(*model));
}

INSTANTIATE_TEST_SUITE_P(OptDtypeBuckets, DdpEquivalence,
                         ::testing::Combine(::testing::Values(Opt::Sgd, Opt::Adam),
                                            ::testing::Values(DType::Float64, DType::Float32),
                                            ::testing::Values(int64_t{0}, int64_t{512})),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == Opt::Sgd ? "Sgd"
                                                                                  : "Adam") +
                                  "_" + dtype_name(std::get<1>(info.param)) + "_bucket" +
                                  std::to_string(std::get<2>(info.param));
                         });

TEST(Ddp, WithoutTheAllReduceTheRanksDrift) {
  // The control that shows the equivalence test can fail: the same training with the gradient
  // all-reduce left out ends far from the one-process run.
  if (comm().world_size() == 1) GTEST_SKIP() << "needs 2 ranks";  // same decision on all ranks
  const GlobalBatch batch = make_batch(DType::Float64);
  const auto reference = make_model(1, DType::Float64);
  const auto ref_opt = make_optimizer(Opt::Sgd, *reference);
  const auto model = make_model(1, DType::Float64);
  const auto opt = make_optimizer(Opt::Sgd, *model);
  train(*reference, *ref_opt, batch, 0, 1, nullptr);
  train(*model, *opt, batch, comm().rank(), comm().world_size(), nullptr);
  EXPECT_GT(max_param_diff(*model, *reference), 1e-4);
}

TEST(Ddp, ParametersWithoutGradientsAreDecidedAlikeOnEveryRank) {
  // a: a gradient on every rank; b: only on rank 0; c: on no rank.
  const Variable a(zeros({3}, DType::Float64), true), b(zeros({2}, DType::Float64), true),
      c(zeros({2}, DType::Float64), true);
  DistributedDataParallel ddp(comm(), {{"a", a}, {"b", b}, {"c", c}});
  const double r = comm().rank(), w = comm().world_size();
  a.set_grad(tensor({r, 2 * r, 1}, {3}, DType::Float64));
  if (comm().rank() == 0) b.set_grad(tensor({4, -4}, {2}, DType::Float64));
  ddp.all_reduce_gradients();
  const double rank_sum = w * (w - 1) / 2;
  EXPECT_EQ(a.grad().to_vector<double>(),
            (std::vector<double>{rank_sum / w, 2 * rank_sum / w, 1.0}));
  ASSERT_TRUE(b.grad().defined()) << "created on the ranks that had none";
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{4 / w, -4 / w}));
  EXPECT_FALSE(c.grad().defined()) << "no rank had one: every optimizer skips it";
}
