// tests/cuda/sync_debug_test.cpp: the implicit-host-sync counter and LOOM_CUDA_SYNC_DEBUG
// (cuda/runtime/sync_debug.h). The counter and the modes are plain C++ and run in every build; the
// tests that count the syncs of real ops (index_select's bounds check, item(), none under graph
// capture) need a device and skip without one. The environment variable is read once per
// process, so its test runs as a second ctest entry with the variable set (CMakeLists.txt).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "cuda/runtime/device.h"
#include "cuda/runtime/sync_debug.h"
#include "tests/common/error_of.h"
#include "tests/cuda/cuda_test_util.h"

#if LOOM_HAVE_CUDA
#include "cuda/runtime/graph.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"
#endif

namespace {

using loom::cuda::host_sync_count;
using loom::cuda::note_host_sync;
using loom::cuda::parse_sync_debug_mode;
using loom::cuda::set_sync_debug_mode;
using loom::cuda::sync_debug_mode;
using loom::cuda::SyncDebugMode;
using loom::test::error_of;

// Restores the mode a test changed.
class SyncDebugTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = sync_debug_mode(); }
  void TearDown() override { set_sync_debug_mode(saved_); }

 private:
  SyncDebugMode saved_ = SyncDebugMode::Off;
};

TEST(SyncDebugParse, EveryNameAndNumber) {
  EXPECT_EQ(parse_sync_debug_mode(nullptr), SyncDebugMode::Off);
  EXPECT_EQ(parse_sync_debug_mode(""), SyncDebugMode::Off);
  EXPECT_EQ(parse_sync_debug_mode("off"), SyncDebugMode::Off);
  EXPECT_EQ(parse_sync_debug_mode("0"), SyncDebugMode::Off);
  EXPECT_EQ(parse_sync_debug_mode("warn"), SyncDebugMode::Warn);
  EXPECT_EQ(parse_sync_debug_mode("1"), SyncDebugMode::Warn);
  EXPECT_EQ(parse_sync_debug_mode("error"), SyncDebugMode::Error);
  EXPECT_EQ(parse_sync_debug_mode("2"), SyncDebugMode::Error);
}

TEST(SyncDebugParse, ABadValueNamesTheVariableAndTheChoices) {
  const std::string msg = error_of([] { parse_sync_debug_mode("loud"); });
  EXPECT_NE(msg.find("LOOM_CUDA_SYNC_DEBUG=loud"), std::string::npos) << msg;
  EXPECT_NE(msg.find("off (0), warn (1) or error (2)"), std::string::npos) << msg;
}

TEST_F(SyncDebugTest, OffCountsSilently) {
  set_sync_debug_mode(SyncDebugMode::Off);
  const int64_t before = host_sync_count();
  testing::internal::CaptureStderr();
  note_host_sync("index_select", "reading its bounds check back");
  note_host_sync("copy_device_to_host", "a device tensor read on the host");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(host_sync_count(), before + 2);
}

TEST_F(SyncDebugTest, WarnPrintsOneNumberedLinePerSync) {
  set_sync_debug_mode(SyncDebugMode::Warn);
  const int64_t before = host_sync_count();
  testing::internal::CaptureStderr();
  note_host_sync("div", "reading its division-by-zero check back");
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(out, "loom: CUDA host sync #" + std::to_string(before + 1) +
                     ": div: reading its division-by-zero check back\n");
  EXPECT_EQ(host_sync_count(), before + 1);
}

TEST_F(SyncDebugTest, ErrorRefusesWithTheOpAndHowToAllowIt) {
  set_sync_debug_mode(SyncDebugMode::Error);
  const int64_t before = host_sync_count();
  const std::string msg =
      error_of([] { note_host_sync("index_add", "reading its bounds check back"); });
  EXPECT_NE(msg.find("CUDA host sync refused (LOOM_CUDA_SYNC_DEBUG=error)"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("index_add: reading its bounds check back"), std::string::npos) << msg;
  EXPECT_NE(msg.find("set_sync_debug_mode"), std::string::npos) << msg;
  EXPECT_EQ(host_sync_count(), before) << "a refused sync did not happen: not counted";
}

// Runs only under the ctest entry `cuda_sync_debug_env_tests`, which sets the variable to
// "warn" and selects this test: the first use of the mode reads it.
TEST(SyncDebugFromEnvironment, TheVariableSetsTheStartingMode) {
  const char* value = std::getenv("LOOM_CUDA_SYNC_DEBUG");
  if (value == nullptr) GTEST_SKIP() << "runs under the ctest entry that sets LOOM_CUDA_SYNC_DEBUG";
  EXPECT_EQ(sync_debug_mode(), parse_sync_debug_mode(value));
  EXPECT_EQ(std::string(value), "warn") << "the ctest entry sets warn";
}

#if LOOM_HAVE_CUDA

const loom::Device kGpu("cuda:0");

TEST_F(SyncDebugTest, IndexSelectAndItemEachSyncOnceAndErrorModeRefusesThem) {
  LOOM_SKIP_WITHOUT_CUDA_DEVICE();
  set_sync_debug_mode(SyncDebugMode::Off);
  const loom::Tensor table = loom::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2}, kGpu);
  const loom::Tensor ids = loom::from_vector<int64_t>({2, 0}, {2}, kGpu);
  int64_t before = host_sync_count();
  const loom::Tensor rows = loom::index_select(table, 0, ids);
  EXPECT_EQ(host_sync_count(), before + 1) << "the bounds check is read back once";
  before = host_sync_count();
  const std::vector<float> got = rows.to(loom::kCPU).to_vector<float>();
  EXPECT_EQ(got, (std::vector<float>{5, 6, 1, 2}));
  EXPECT_EQ(host_sync_count(), before + 1) << "one read of the device tensor";

  set_sync_debug_mode(SyncDebugMode::Error);
  const std::string msg = error_of([&] { loom::index_select(table, 0, ids); });
  EXPECT_NE(msg.find("index_select: reading its bounds check back"), std::string::npos) << msg;
}

TEST_F(SyncDebugTest, ACapturedIndexSelectNeitherSyncsNorCounts) {
  LOOM_SKIP_WITHOUT_CUDA_DEVICE();
  set_sync_debug_mode(SyncDebugMode::Error);  // any implicit sync inside would throw
  const loom::Tensor table = loom::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2}, kGpu);
  const loom::Tensor ids = loom::from_vector<int64_t>({1, 1}, {2}, kGpu);
  loom::Tensor rows;
  loom::cuda::CudaGraph graph;
  const int64_t before = host_sync_count();
  graph.capture([&] { rows = loom::index_select(table, 0, ids); });
  graph.replay();
  graph.replay();
  EXPECT_EQ(host_sync_count(), before);
  set_sync_debug_mode(SyncDebugMode::Off);
  EXPECT_EQ(rows.to(loom::kCPU).to_vector<float>(), (std::vector<float>{3, 4, 3, 4}));
}

#endif  // LOOM_HAVE_CUDA

}  // namespace
