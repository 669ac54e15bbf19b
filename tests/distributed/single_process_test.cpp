// tests/distributed/single_process_test.cpp: everything that needs no second process: the
// single-process communicator, make_communicator's choices, the watchdog, DDP's bucketing and
// checks, metric totals, and that none of it starts MPI.
#include <gtest/gtest.h>
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "autograd/functions.h"
#include "nn/distributed/communicator.h"
#include "nn/distributed/ddp.h"
#include "nn/distributed/metrics.h"
#include "nn/distributed/pipeline.h"
#include "nn/distributed/watchdog.h"
#include "tensor/ops.h"
#include "tests/common/error_of.h"

using namespace loom;
using namespace loom::nn::distributed;
using loom::test::error_of;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

Variable param(const Shape& shape, DType dtype = DType::Float32) {
  return Variable(zeros(shape, dtype), /*requires_grad=*/true);
}

}  // namespace

TEST(SingleProcess, CollectivesAreTheIdentity) {
  SingleProcessCommunicator comm;
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.world_size(), 1);
  EXPECT_TRUE(comm.is_root());
  const Tensor t = tensor({1.5, -2, 3}, {3});
  comm.all_reduce_sum(t);
  comm.all_reduce_mean(t);
  comm.broadcast(t, 0);
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{1.5, -2, 3}));
  EXPECT_EQ(comm.all_reduce_sum(std::vector<double>{1, 2}), (std::vector<double>{1, 2}));
  EXPECT_EQ(comm.all_reduce_max(std::vector<double>{3}), (std::vector<double>{3}));
  comm.barrier();
}

TEST(SingleProcess, ChecksItsArgumentsLikeTheOthers) {
  SingleProcessCommunicator comm;
  const std::string int_tensor = error_of([&] { comm.all_reduce_sum(zeros({2}, DType::Int64)); });
  EXPECT_TRUE(contains(int_tensor, "all_reduce_sum")) << int_tensor;
  EXPECT_TRUE(contains(int_tensor, "int64")) << int_tensor;
  const std::string view = error_of([&] { comm.broadcast(zeros({2, 3}).t(), 0); });
  EXPECT_TRUE(contains(view, "not contiguous")) << view;
  const std::string root = error_of([&] { comm.broadcast(zeros({2}), 1); });
  EXPECT_TRUE(contains(root, "root 1 is not a rank")) << root;
}

TEST(SingleProcess, MakeCommunicatorChoices) {
  const ProcessInfo alone;  // no launcher
  EXPECT_STREQ(make_communicator("auto", DeviceType::CPU, alone)->backend_name(), "none");
  EXPECT_STREQ(make_communicator("auto", DeviceType::CUDA, alone)->backend_name(), "none");
  EXPECT_STREQ(make_communicator("none", DeviceType::CPU, alone)->backend_name(), "none");
  const std::string unknown = error_of([&] { make_communicator("gloo", DeviceType::CPU, alone); });
  EXPECT_TRUE(contains(unknown, "unknown backend 'gloo'")) << unknown;
  if (!nccl_available()) {
    const std::string nccl = error_of([&] { make_communicator("nccl", DeviceType::CPU, alone); });
    EXPECT_TRUE(contains(nccl, "no NCCL")) << nccl;
    ProcessInfo two;
    two.world_size = 2;
    two.local_size = 2;
    two.launcher = "openmpi";
    const std::string auto_gpu =
        error_of([&] { make_communicator("auto", DeviceType::CUDA, two); });
    EXPECT_TRUE(contains(auto_gpu, "needs NCCL")) << auto_gpu;
  }
}

TEST(SingleProcess, RunDistributedPassesResultsAndExceptionsThrough) {
  SingleProcessCommunicator comm;
  EXPECT_EQ(run_distributed(comm, [] { return 7; }), 7);
  EXPECT_THROW(run_distributed(comm, []() -> int { throw Error("boom"); }), Error);
}

TEST(SingleProcess, NothingHereStartedMpi) {
  // Runs after the tests above in this binary: none of them may have initialised MPI.
  SingleProcessCommunicator comm;
  DistributedDataParallel ddp(comm, {{"w", param({3})}});
  ddp.all_reduce_gradients();
  int initialized = 1;
  MPI_Initialized(&initialized);
  EXPECT_EQ(initialized, 0);
}

TEST(Watchdog, ReportsACollectiveThatRunsTooLong) {
  std::mutex mutex;
  std::condition_variable fired;
  std::vector<std::string> messages;
  Watchdog dog(0.05, [&](const std::string& m) {
    std::lock_guard<std::mutex> lock(mutex);
    messages.push_back(m);
    fired.notify_all();
  });
  {
    Watchdog::Scope scope(dog, "all_reduce_sum", 64);
    std::unique_lock<std::mutex> lock(mutex);
    // Generous bound: the point is that it fires at all, not how fast (a loaded machine).
    fired.wait_for(lock, std::chrono::seconds(10), [&] { return !messages.empty(); });
  }
  std::lock_guard<std::mutex> lock(mutex);
  ASSERT_EQ(messages.size(), 1u);  // once per collective, not once per check
  EXPECT_TRUE(contains(messages[0], "all_reduce_sum (64 bytes) did not finish within 0.05 s"))
      << messages[0];
}

TEST(Watchdog, QuietWhileCollectivesFinishInTime) {
  std::atomic<int> calls{0};
  {
    Watchdog dog(1.0, [&](const std::string&) { ++calls; });
    for (int i = 0; i < 100; ++i)
      Watchdog::Scope scope(dog, "barrier", 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past every old deadline
  }
  EXPECT_EQ(calls.load(), 0);
  Watchdog off(0.0, [&](const std::string&) { ++calls; });  // disabled: no thread at all
  Watchdog::Scope scope(off, "barrier", 0);
  EXPECT_EQ(calls.load(), 0);
}

TEST(Ddp, BucketsFollowParameterOrderSizeAndDtype) {
  SingleProcessCommunicator comm;
  // float32: 40, 40, 120, 20 bytes, then a float64 parameter.
  nn::optim::NamedParameters params = {{"a", param({10})},
                                       {"b", param({2, 5})},
                                       {"c", param({30})},
                                       {"d", param({5})},
                                       {"e", param({2}, DType::Float64)}};
  DistributedDataParallel ddp(comm, params, DdpOptions().bucket_bytes(100));
  const std::vector<std::vector<std::size_t>> expected = {{0, 1}, {2}, {3}, {4}};
  EXPECT_EQ(ddp.buckets(), expected);
  DistributedDataParallel one(comm, params, DdpOptions().bucket_bytes(0));
  EXPECT_EQ(one.buckets(), (std::vector<std::vector<std::size_t>>{{0, 1, 2, 3}, {4}}));
}

TEST(Ddp, OneProcessLeavesGradientsAlone) {
  SingleProcessCommunicator comm;
  Variable w = param({3});
  Variable unused = param({2});
  w.set_grad(tensor({1, 2, 3}, {3}));
  DistributedDataParallel ddp(comm, {{"w", w}, {"unused", unused}});
  ddp.all_reduce_gradients();
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{1, 2, 3}));
  EXPECT_FALSE(unused.grad().defined());
}

TEST(Ddp, RejectsParametersItCannotReduce) {
  SingleProcessCommunicator comm;
  const std::string ints = error_of([&] {
    DistributedDataParallel(comm, {{"ids", Variable(zeros({2}, DType::Int64))}});
  });
  EXPECT_TRUE(contains(ints, "'ids'")) << ints;
  EXPECT_TRUE(contains(ints, "int64")) << ints;
  const std::string twice = error_of([&] {
    DistributedDataParallel(comm, {{"w", param({1})}, {"w", param({1})}});
  });
  EXPECT_TRUE(contains(twice, "'w' appears twice")) << twice;
}

TEST(Metrics, TotalsWeighSamplesNotBatches) {
  MetricTotals m;
  m.add_batch(0.5, 4, 3);  // 4 samples, mean loss 0.5
  m.add_batch(2.0, 1, 0);  // a short last batch
  EXPECT_DOUBLE_EQ(m.loss_sum, 4.0);
  EXPECT_DOUBLE_EQ(m.mean_loss(), 0.8);
  EXPECT_DOUBLE_EQ(m.accuracy(), 0.6);
  SingleProcessCommunicator comm;
  m.time_s = 2.5;
  const MetricTotals all = reduce_metrics(comm, m);
  EXPECT_DOUBLE_EQ(all.count, 5);
  EXPECT_DOUBLE_EQ(all.time_s, 2.5);
  const std::string bad = error_of([&] { m.add_batch(1.0, 2, 3); });
  EXPECT_TRUE(contains(bad, "correct 3 of 2")) << bad;
}

TEST(SingleProcess, HasNobodyToSendToAndSplitsIntoAGroupOfOne) {
  SingleProcessCommunicator comm;
  const Tensor t = zeros({2});
  EXPECT_TRUE(contains(error_of([&] { comm.send(t, 1, 0); }), "rank 1 is not another rank"));
  EXPECT_TRUE(contains(error_of([&] { comm.recv(t, 0, 0); }), "rank 0 is not another rank"));
  const std::unique_ptr<Communicator> group = comm.split(3, 0);
  EXPECT_EQ(group->world_size(), 1);
  EXPECT_TRUE(contains(error_of([&] { comm.split(-2, 0); }), "color -2"));
}

TEST(Gpipe, OneStageIsGradientAccumulationOverMicroBatches) {
  // y = w * x summed; with each micro-batch's mean loss times its share, the accumulated
  // gradient is the whole batch's: d/dw mean(w * x) = mean(x).
  SingleProcessCommunicator comm;
  const Tensor x = from_vector<double>({1, 2, 3, 4, 5}, {5});
  const Variable w(full({1}, 2.0, DType::Float64), /*requires_grad=*/true);
  PipelineStage stage;
  const int64_t micro = 3;
  auto start = [&](int64_t m) { return m * 5 / micro; };
  stage.forward = [&](int64_t m, const Variable& input) {
    EXPECT_FALSE(input.defined());  // the first stage reads its own data
    const int64_t rows = start(m + 1) - start(m);
    const Variable part(x.narrow(0, start(m), rows));
    return mul(mean(mul(part, w)), static_cast<double>(rows) / 5.0);
  };
  gpipe_step(comm, micro, stage);
  EXPECT_NEAR(w.grad().item<double>(), 3.0, 1e-12);
  EXPECT_TRUE(contains(error_of([&] { gpipe_step(comm, 0, stage); }), "micro_batches"));
}

TEST(Gpipe, BubbleFractionIsStagesMinusOneOverMicroBatchesPlusStagesMinusOne) {
  EXPECT_DOUBLE_EQ(gpipe_bubble_fraction(1, 8), 0.0);
  EXPECT_DOUBLE_EQ(gpipe_bubble_fraction(2, 1), 0.5);
  EXPECT_DOUBLE_EQ(gpipe_bubble_fraction(2, 4), 0.2);
  EXPECT_DOUBLE_EQ(gpipe_bubble_fraction(4, 13), 0.1875);
}
