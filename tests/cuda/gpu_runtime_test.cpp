// tests/cuda/gpu_runtime_test.cpp: the device layer on a real GPU — the caching allocator on
// cudaMalloc, streams and events, the cuBLAS handle, a kernel launched through the grid helper
// with its launch error checked. Every test skips with the device report when there is no CUDA
// device; in a build without CUDA one placeholder test skips and says so.
#include <gtest/gtest.h>

#include "cuda/runtime/device.h"
#include "tests/cuda/cuda_test_util.h"

#if LOOM_HAVE_CUDA

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>
#include <vector>

#include "cuda/kernels/launch.cuh"
#include "cuda/runtime/allocator.cuh"
#include "cuda/runtime/blas.cuh"
#include "cuda/runtime/check.cuh"
#include "cuda/runtime/stream.cuh"
#include "tests/cuda/test_kernels.h"

namespace {

using namespace loom::cuda;

class GpuRuntime : public ::testing::Test {
 protected:
  void SetUp() override {
    LOOM_SKIP_WITHOUT_CUDA_DEVICE();
    set_device(0);
  }
};

std::vector<float> to_host(const float* device_ptr, std::size_t n, cudaStream_t stream) {
  std::vector<float> host(n);
  LOOM_CUDA_CHECK(
      cudaMemcpyAsync(host.data(), device_ptr, n * sizeof(float), cudaMemcpyDeviceToHost, stream));
  LOOM_CUDA_CHECK(cudaStreamSynchronize(stream));
  return host;
}

// The one test here that runs *without* a device: every entry point refuses cleanly.
TEST(GpuRuntimeWithoutDevice, EveryEntryPointThrowsNamingTheDevice) {
  if (device_count() > 0) GTEST_SKIP() << "this machine has a CUDA device";
  auto message = [](auto&& fn) {
    try {
      fn();
    } catch (const loom::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([] { device_allocator(0); }).find("cuda::device_allocator: cuda:0 does not"),
            std::string::npos);
  EXPECT_NE(message([] { blas_handle(0); }).find("cuda::blas_handle: cuda:0 does not exist"),
            std::string::npos);
  EXPECT_NE(message([] { default_stream(0); }).find("cuda::default_stream: cuda:0 does not"),
            std::string::npos);
  EXPECT_NE(message([] { Stream s(0); }).find("cuda::DeviceGuard: cuda:0 does not exist"),
            std::string::npos);
  EXPECT_NE(message([] { DeviceBuffer b(16, 0); }).find("cuda:0 does not exist"),
            std::string::npos);
  EXPECT_THROW(current_stream(), loom::Error);  // no current device to default to
}

TEST_F(GpuRuntime, AllocatorReusesDeviceBlocksInTheSteadyState) {
  CachingAllocator& alloc = device_allocator(0);
  { DeviceBuffer warm(100000); }  // the first step may allocate
  const auto before = alloc.stats();
  for (int step = 0; step < 10; ++step) {
    DeviceBuffer buf(100000);
    ASSERT_NE(buf.data(), nullptr);
    LOOM_CUDA_CHECK(cudaMemsetAsync(buf.data(), 0, buf.size(), current_stream(0)));
  }
  const auto after = alloc.stats();
  EXPECT_EQ(after.raw_allocations, before.raw_allocations);
  EXPECT_EQ(after.cache_hits, before.cache_hits + 10);
  LOOM_CUDA_CHECK(cudaStreamSynchronize(current_stream(0)));
}

TEST_F(GpuRuntime, EmptyCacheReturnsMemoryToTheDevice) {
  { DeviceBuffer buf(8 << 20); }
  EXPECT_GT(device_allocator(0).stats().bytes_cached, 0u);
  device_allocator(0).empty_cache();
  EXPECT_EQ(device_allocator(0).stats().bytes_cached, 0u);
}

TEST_F(GpuRuntime, ImpossibleAllocationThrowsOutOfMemoryNamingTheSize) {
  const std::size_t huge = std::size_t{1} << 46;  // 64 TiB
  try {
    DeviceBuffer buf(huge);
    FAIL() << "allocating 64 TiB succeeded";
  } catch (const loom::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("CUDA out of memory on cuda:0"), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::to_string(huge) + " bytes"), std::string::npos) << msg;
  }
  DeviceBuffer ok(1024);  // the device is still usable afterwards
  EXPECT_NE(ok.data(), nullptr);
}

TEST_F(GpuRuntime, GridStrideKernelWritesEveryElement) {
  // More elements than the capped grid has threads at block 32: the grid-stride loop must
  // cover the rest.
  const int64_t n = kMaxGridBlocks * 32 + 12345;
  DeviceBuffer buf(n * sizeof(float));
  LOOM_CUDA_CHECK(cudaMemsetAsync(buf.data(), 0xff, buf.size(), current_stream(0)));  // poison
  test_kernels::fill_iota(buf.as<float>(), n, 32, current_stream(0));
  const std::vector<float> host = to_host(buf.as<float>(), n, current_stream(0));
  int64_t wrong = 0;
  for (int64_t i = 0; i < n; ++i)
    wrong += host[i] != static_cast<float>(i);
  EXPECT_EQ(wrong, 0);
}

TEST_F(GpuRuntime, InvalidLaunchIsReportedWithFileAndLine) {
  DeviceBuffer buf(64 * sizeof(float));
  try {
    test_kernels::fill_iota_unchecked(buf.as<float>(), 64, 4096, current_stream(0));
    FAIL() << "a 4096-thread block launched";
  } catch (const loom::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("test_kernels.cu:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cudaErrorInvalidConfiguration"), std::string::npos) << msg;
  }
  EXPECT_THROW(test_kernels::fill_iota(buf.as<float>(), 64, 4096, current_stream(0)), loom::Error);
  LOOM_CUDA_CHECK(cudaGetLastError());  // the error did not stick
}

TEST_F(GpuRuntime, StreamsEventsAndTiming) {
  Stream s(0);
  Event start(true), stop(true), done;
  {
    DeviceBuffer buf(1 << 20, 0, s.get());  // freed on `s`, before `s` is destroyed
    start.record(s.get());
    test_kernels::fill_iota(buf.as<float>(), (1 << 20) / sizeof(float), 256, s.get());
    stop.record(s.get());
    done.record(s.get());
  }
  wait_event(current_stream(0), done);  // the default stream waits on the device
  EXPECT_GE(elapsed_ms(start, stop), 0.0f);
  s.synchronize();
  EXPECT_TRUE(s.query());
  EXPECT_TRUE(done.query());
  Stream moved = std::move(s);
  EXPECT_EQ(s.get(), nullptr);
  EXPECT_NE(moved.get(), nullptr);
}

TEST_F(GpuRuntime, StreamGuardSetsAndRestoresTheCurrentStream) {
  const cudaStream_t original = current_stream(0);
  EXPECT_EQ(original, default_stream(0));
  Stream s(0);
  {
    StreamGuard guard(s);
    EXPECT_EQ(current_stream(0), s.get());
  }
  EXPECT_EQ(current_stream(0), original);
}

TEST_F(GpuRuntime, CublasHandleIsPerDeviceAndFollowsTheCurrentStream) {
  cublasHandle_t h = blas_handle(0);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(blas_handle(0), h);
  cudaStream_t bound = nullptr;
  LOOM_CUBLAS_CHECK(cublasGetStream(h, &bound));
  EXPECT_EQ(bound, current_stream(0));

  Stream s(0);
  StreamGuard guard(s);
  EXPECT_EQ(blas_handle(0), h);
  LOOM_CUBLAS_CHECK(cublasGetStream(h, &bound));
  EXPECT_EQ(bound, s.get());

  // y = A x with A = [[1, 2], [3, 4]] (column-major for cuBLAS) and x = [1, 1]: y = [3, 7].
  const float host_a[4] = {1, 3, 2, 4}, host_x[2] = {1, 1};
  DeviceBuffer a(sizeof host_a), x(sizeof host_x), y(2 * sizeof(float));
  LOOM_CUDA_CHECK(
      cudaMemcpyAsync(a.data(), host_a, sizeof host_a, cudaMemcpyHostToDevice, s.get()));
  LOOM_CUDA_CHECK(
      cudaMemcpyAsync(x.data(), host_x, sizeof host_x, cudaMemcpyHostToDevice, s.get()));
  const float one = 1.0f, zero = 0.0f;
  LOOM_CUBLAS_CHECK(cublasSgemv(blas_handle(0), CUBLAS_OP_N, 2, 2, &one, a.as<float>(), 2,
                                x.as<float>(), 1, &zero, y.as<float>(), 1));
  const std::vector<float> result = to_host(y.as<float>(), 2, s.get());
  EXPECT_EQ(result, (std::vector<float>{3, 7}));
}

}  // namespace

#else  // !LOOM_HAVE_CUDA

TEST(GpuRuntime, NotBuilt) {
  GTEST_SKIP() << loom::cuda::device_report();
}

#endif
