// tests/distributed/nccl_test.cpp: NcclCommunicator on the ranks of the job, one GPU per rank.
// Skips (on every rank alike) in a build without NCCL or on a node with fewer GPUs than ranks,
// which is every run so far: this test has never run (no GPU in CI or on the dev machine).
// Checks against values computed on the host: all-reduce in float32/float64/float16, broadcast,
// and DDP's gradient average on CUDA tensors.
#include <gtest/gtest.h>

#include "cuda/runtime/device.h"
#include "nn/distributed/ddp.h"
#include "nn/distributed/nccl_communicator.h"
#include "tensor/ops.h"
#include "tests/distributed/mpi_test_main.h"

using namespace loom;
using namespace loom::nn::distributed;
using loom::test::comm;

namespace {

// Same answer on every rank of a one-node job (the CI case), so every rank skips or none does.
std::string skip_reason() {
  if (!nccl_available()) return "this build has no NCCL (CUDA off or NCCL not found)";
  const int gpus = cuda::device_count();
  if (gpus < comm().local_size())
    return std::to_string(comm().local_size()) + " ranks on this node but " + std::to_string(gpus) +
           " GPU(s): " + cuda::device_report();
  return "";
}

}  // namespace

TEST(Nccl, CollectivesOnTheGpu) {
  const std::string reason = skip_reason();
  if (!reason.empty()) GTEST_SKIP() << reason;
  NcclCommunicator nccl;
  EXPECT_EQ(nccl.rank(), comm().rank());
  EXPECT_EQ(nccl.world_size(), comm().world_size());
  EXPECT_EQ(nccl.device(), Device(DeviceType::CUDA, comm().local_rank()));
  const double r = nccl.rank(), w = nccl.world_size();
  for (DType dtype : {DType::Float32, DType::Float64, DType::Float16}) {
    // Small integers: exact in every dtype, float16 included.
    const Tensor t = full({1001}, r + 1, TensorOptions(dtype, nccl.device()));
    nccl.all_reduce_sum(t);
    EXPECT_EQ(t.to_vector<double>(), std::vector<double>(1001, w * (w + 1) / 2))
        << dtype_name(dtype);
    const Tensor b = full({17}, r, TensorOptions(dtype, nccl.device()));
    nccl.broadcast(b, static_cast<int>(w) - 1);
    EXPECT_EQ(b.to_vector<double>(), std::vector<double>(17, w - 1)) << dtype_name(dtype);
  }
  // Host values go through MPI.
  EXPECT_EQ(nccl.all_reduce_sum({1.0})[0], w);
  const std::string cpu = [&] {
    try {
      nccl.all_reduce_sum(zeros({2}));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  EXPECT_NE(cpu.find("is on cpu"), std::string::npos) << cpu;
}

TEST(Nccl, DdpAveragesGpuGradients) {
  const std::string reason = skip_reason();
  if (!reason.empty()) GTEST_SKIP() << reason;
  NcclCommunicator nccl;
  const double r = nccl.rank(), w = nccl.world_size();
  const Variable p(full({3}, r, TensorOptions(DType::Float32, nccl.device())), true);
  DistributedDataParallel ddp(nccl, {{"p", p}});
  EXPECT_EQ(p.data().to_vector<float>(), std::vector<float>(3, 0.0f)) << "rank 0's values";
  p.set_grad(full({3}, 2 * (r + 1), TensorOptions(DType::Float32, nccl.device())));
  ddp.all_reduce_gradients();
  EXPECT_EQ(p.grad().to_vector<double>(), std::vector<double>(3, w + 1));  // mean of 2(r+1)
}
