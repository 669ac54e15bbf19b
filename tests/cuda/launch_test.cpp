// tests/cuda/launch_test.cpp: the grid helper's host arithmetic and its precondition checks
// (cuda/kernels/launch.cuh). Plain C++: runs in every build, with or without a GPU. The device side
// (grid_stride in a real kernel) is tested in gpu_runtime_test.cpp.
#include <gtest/gtest.h>

#include <string>

#include "cuda/kernels/launch.cuh"

namespace {

using loom::cuda::blocks_for;
using loom::cuda::ceil_div;
using loom::cuda::kMaxGridBlocks;

TEST(CudaLaunch, CeilDiv) {
  EXPECT_EQ(ceil_div(0, 256), 0);
  EXPECT_EQ(ceil_div(1, 256), 1);
  EXPECT_EQ(ceil_div(256, 256), 1);
  EXPECT_EQ(ceil_div(257, 256), 2);
  EXPECT_EQ(ceil_div(int64_t{1} << 40, 1024), int64_t{1} << 30);  // no 32-bit overflow
}

TEST(CudaLaunch, BlocksCoverEveryElementOnce) {
  EXPECT_EQ(blocks_for(0, 256, "t"), 0);  // the launcher must skip the launch
  EXPECT_EQ(blocks_for(1, 256, "t"), 1);
  EXPECT_EQ(blocks_for(256, 256, "t"), 1);
  EXPECT_EQ(blocks_for(257, 256, "t"), 2);
  EXPECT_EQ(blocks_for(1000, 32, "t"), 32);
  for (int64_t n : {1, 31, 32, 33, 1000, 100000}) {
    const int64_t blocks = blocks_for(n, 128, "t");
    EXPECT_GE(blocks * 128, n) << n;        // enough threads ...
    EXPECT_LT((blocks - 1) * 128, n) << n;  // ... and not a whole block too many
  }
}

TEST(CudaLaunch, HugeGridsAreCappedForTheGridStrideLoop) {
  EXPECT_EQ(blocks_for(kMaxGridBlocks * 256, 256, "t"), kMaxGridBlocks);
  EXPECT_EQ(blocks_for(kMaxGridBlocks * 256 + 1, 256, "t"), kMaxGridBlocks);
  EXPECT_EQ(blocks_for(int64_t{1} << 40, 1024, "t"), kMaxGridBlocks);
}

TEST(CudaLaunch, BadPreconditionsThrowNamingTheLauncher) {
  auto message = [](int64_t n, int block) {
    try {
      blocks_for(n, block, "add_kernel");
    } catch (const loom::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(-1, 256).find("add_kernel: negative element count -1"), std::string::npos);
  for (int block : {0, -32, 100, 1056, 2048}) {
    const std::string msg = message(10, block);
    EXPECT_NE(msg.find("add_kernel: block size " + std::to_string(block)), std::string::npos)
        << msg;
  }
  EXPECT_NO_THROW(blocks_for(10, 32, "t"));
  EXPECT_NO_THROW(blocks_for(10, 1024, "t"));
}

}  // namespace
