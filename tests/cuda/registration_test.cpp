// tests/cuda/registration_test.cpp: linking loom::cuda is all it takes to get the CUDA backend,
// and a machine without a device gets a clear error, not a crash. Runs in every build.
//
// This program never calls anything that would pull the registration in by hand: the backend
// must be there because cuda/kernels/register_backend.cpp's object is linked into every executable
// that links loom::cuda (see cuda/CMakeLists.txt). So these tests fail if the registration is
// ever dropped by the linker again.
#include <gtest/gtest.h>

#include <string>

#include "cuda/kernels/backend.h"
#include "cuda/runtime/device.h"
#include "tensor/backend.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"
#include "tests/cuda/parity_util.h"

namespace {

using namespace loom;
using loom::test::error_of;
using loom::test::kCuda;

TEST(CudaRegistration, BackendIsRegisteredExactlyInCudaBuilds) {
  EXPECT_EQ(has_backend(DeviceType::CUDA), LOOM_HAVE_CUDA == 1);
  if (LOOM_HAVE_CUDA) {
    EXPECT_STREQ(backend_for(kCuda).name(), "cuda");
  } else {
    const std::string msg = error_of([] { backend_for(kCuda); });
    EXPECT_NE(msg.find("this build has no CUDA backend"), std::string::npos) << msg;
  }
}

TEST(CudaRegistration, WithoutADeviceCreatingACudaTensorSaysSo) {
  if (cuda::device_count() > 0)
    GTEST_SKIP() << "a CUDA device is present: " << cuda::device_report();
  const std::string want = LOOM_HAVE_CUDA ? "no CUDA device" : "this build has no CUDA backend";
  for (const std::string& msg : {error_of([] {
                                   zeros({2, 3}, TensorOptions(DType::Float32, kCuda));
                                 }),
                                 error_of([] { arange(4).to(Device("cuda:0")); }), error_of([] {
                                   empty({0}, TensorOptions(DType::Int64, kCuda));
                                 })}) {
    EXPECT_NE(msg.find(want), std::string::npos) << msg;
    if (LOOM_HAVE_CUDA) {
      // The runtime's own reason comes along, e.g. "(CUDA: no device (cudaErrorNoDevice: ...))".
      EXPECT_NE(msg.find("CUDA: no device ("), std::string::npos) << msg;
    }
  }
}

TEST(CudaRegistration, DeterministicIndexAddIsTheDefaultAndSwitchable) {
  EXPECT_TRUE(cuda::deterministic());
  cuda::set_deterministic(false);
  EXPECT_FALSE(cuda::deterministic());
  cuda::set_deterministic(true);
  EXPECT_TRUE(cuda::deterministic());
}

TEST(CudaRegistration, WithADeviceTensorsRoundTrip) {
  LOOM_SKIP_WITHOUT_CUDA_DEVICE();
  const Tensor a = arange(10, TensorOptions(DType::Int64));
  EXPECT_EQ(a.to(kCuda).to(kCPU).to_vector<int64_t>(), a.to_vector<int64_t>());
}

}  // namespace
