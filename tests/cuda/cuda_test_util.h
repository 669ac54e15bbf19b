// tests/cuda/cuda_test_util.h: how a CUDA test skips on a machine without a GPU.
//
// Put LOOM_SKIP_WITHOUT_CUDA_DEVICE() first in a test body (or a fixture's SetUp): without a
// usable device the test is reported as SKIPPED with the reason the runtime gave, e.g.
//   no CUDA device: CUDA: no device (cudaErrorInsufficientDriver: CUDA driver version is ...)
#pragma once

#include <gtest/gtest.h>

#include "cuda/runtime/device.h"

#define LOOM_SKIP_WITHOUT_CUDA_DEVICE()                                    \
  do {                                                                     \
    if (::loom::cuda::device_count() == 0)                                 \
      GTEST_SKIP() << "no CUDA device: " << ::loom::cuda::device_report(); \
  } while (0)
