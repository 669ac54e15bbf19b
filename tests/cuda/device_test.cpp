// tests/cuda/device_test.cpp: cuda/runtime/device.h and cuda/runtime/pinned.h in every build:
// with a GPU, with the toolkit but no GPU or driver (this must report "no device" cleanly), and
// without CUDA at all (the stub must report "not built").
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "cuda/runtime/device.h"
#include "cuda/runtime/pinned.h"
#include "tensor/error.h"
#include "tests/cuda/cuda_test_util.h"

namespace {

using namespace loom::cuda;

// The message of the loom::Error that `fn` throws; fails the test if it throws nothing.
template <typename Fn>
std::string error_message(Fn&& fn) {
  try {
    fn();
  } catch (const loom::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a loom::Error";
  return std::string();
}

TEST(CudaDevice, BuiltWithCudaMatchesTheConfiguration) {
  EXPECT_EQ(built_with_cuda(), LOOM_HAVE_CUDA == 1);
}

TEST(CudaDevice, ReportNeverThrowsAndDescribesTheMachine) {
  std::string report;
  ASSERT_NO_THROW(report = device_report());
  const int count = device_count();
  ASSERT_GE(count, 0);
  if (!built_with_cuda()) {
    EXPECT_EQ(count, 0);
    EXPECT_EQ(report, "CUDA: not built (configured without a CUDA compiler)");
  } else if (count == 0) {
    // e.g. "CUDA: no device (cudaErrorInsufficientDriver: CUDA driver version is insufficient...)"
    const std::string prefix = "CUDA: no device (";
    ASSERT_EQ(report.rfind(prefix, 0), 0u) << report;
    EXPECT_GT(report.size(), prefix.size() + 1) << "the runtime's reason is missing: " << report;
    EXPECT_EQ(report.back(), ')');
  } else {
    std::istringstream lines(report);
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      EXPECT_EQ(line.rfind("CUDA: cuda:" + std::to_string(n) + " ", 0), 0u) << line;
      EXPECT_NE(line.find(" SMs, "), std::string::npos) << line;
      EXPECT_NE(line.find("compute "), std::string::npos) << line;
      EXPECT_NE(line.find("runtime "), std::string::npos) << line;
      ++n;
    }
    EXPECT_EQ(n, count);
  }
}

TEST(CudaDevice, SetDeviceOutOfRangeNamesTheIndexAndTheCount) {
  const std::string msg = error_message([] { set_device(99); });
  EXPECT_NE(msg.find("cuda::set_device"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cuda:99"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(device_count()) + " CUDA device(s) visible"), std::string::npos)
      << msg;
  EXPECT_NE(error_message([] { set_device(-1); }).find("cuda:-1"), std::string::npos);
}

TEST(CudaDevice, WithoutADeviceSelectionThrowsAndTheReasonIsGiven) {
  if (device_count() > 0) GTEST_SKIP() << "this machine has a CUDA device";
  const std::string msg = error_message([] { set_device(0); });
  EXPECT_NE(msg.find("cuda:0 does not exist: 0 CUDA device(s) visible ("), std::string::npos)
      << msg;
  EXPECT_NE(error_message([] { DeviceGuard guard(0); }).find("cuda::DeviceGuard: cuda:0"),
            std::string::npos);
  EXPECT_THROW(current_device(), loom::Error);
}

TEST(CudaDevice, DeviceGuardRestoresTheCurrentDevice) {
  LOOM_SKIP_WITHOUT_CUDA_DEVICE();
  set_device(0);
  {
    DeviceGuard guard(device_count() - 1);
    EXPECT_EQ(current_device(), device_count() - 1);
  }
  EXPECT_EQ(current_device(), 0);
}

TEST(CudaPinned, ZeroBytesIsNullAndFreeingNullIsFine) {
  EXPECT_EQ(pinned_alloc(0), nullptr);
  EXPECT_NO_THROW(pinned_free(nullptr));
  PinnedBuffer empty;
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_EQ(empty.size(), 0u);
}

TEST(CudaPinned, AllocationWithoutADeviceThrowsNamingTheSize) {
  if (device_count() > 0) GTEST_SKIP() << "this machine has a CUDA device";
  const std::string msg = error_message([] { PinnedBuffer b(12345); });
  EXPECT_NE(msg.find("cuda::pinned_alloc"), std::string::npos) << msg;
  EXPECT_NE(msg.find("12345 bytes"), std::string::npos) << msg;
}

TEST(CudaPinned, BuffersAreWritableAndMove) {
  LOOM_SKIP_WITHOUT_CUDA_DEVICE();
  PinnedBuffer a(4096);
  PinnedBuffer b = std::move(a);
  ASSERT_NE(b.data(), nullptr);
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(b.size(), 4096u);
  int* p = b.as<int>();
  for (int i = 0; i < 1024; ++i)
    p[i] = i;
  EXPECT_EQ(p[1023], 1023);
}

}  // namespace
