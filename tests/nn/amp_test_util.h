// tests/nn/amp_test_util.h: the comparisons the autocast tests (float16 and bfloat16) share.
//
// expect_within: every element of `got` within its own bound of `want` (a per-element bound,
// derived from the unit roundoff of the 16-bit type by each test); max_abs_diff: the largest
// elementwise difference, in float64.
#pragma once

#include <gtest/gtest.h>

#include <cmath>

#include "tensor/ops.h"

namespace loom::nn::amp::testing {

inline void expect_within(const Tensor& got, const Tensor& want, const Tensor& bound,
                          const char* what) {
  const auto g = got.to_vector<double>(), w = want.to_vector<double>(),
             b = bound.to_vector<double>();
  ASSERT_EQ(g.size(), w.size());
  for (std::size_t i = 0; i < g.size(); ++i)
    ASSERT_LE(std::fabs(g[i] - w[i]), b[i])
        << what << " element " << i << ": got " << g[i] << ", float32 " << w[i];
}

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  return max(abs(sub(a.to(DType::Float64), b.to(DType::Float64)))).item<double>();
}

}  // namespace loom::nn::amp::testing
