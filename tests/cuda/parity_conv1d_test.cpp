// tests/cuda/parity_conv1d_test.cpp: CPU-vs-CUDA parity of Conv1d's Tensor ops (tensor/conv1d.h):
// conv1d_forward (im2col kernel + cuBLAS GEMM), conv1d_forward_direct (the direct kernel) and
// conv1d_backward (two GEMMs + the col2im kernel), float64 and float32, with and without padding,
// and the Seq2CNN layer's size (1024 -> 1024, kernel 4) on a short sequence.
// Tolerance, relative to the largest |reference| of each tensor: 1e-12 float64, 1e-5 float32 (the
// GEMMs sum in other orders). Skips without a CUDA device.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tensor/conv1d.h"
#include "tests/cuda/parity_util.h"

namespace {

using namespace loom;
using namespace loom::test;

struct Case {
  int64_t B, T, C, O, K, P;
};

// max |got - ref| <= tol * max |ref|, got from the GPU.
::testing::AssertionResult near_scaled(const Tensor& ref, const Tensor& got_dev, double tol) {
  const Tensor got = got_dev.to(kCPU);
  if (got.shape() != ref.shape()) return ::testing::AssertionFailure() << "shapes differ";
  const double scale = max(abs(ref.to(DType::Float64))).item<double>();
  const double err = max(abs(sub(got.to(DType::Float64), ref.to(DType::Float64)))).item<double>();
  if (err <= tol * (scale > 0 ? scale : 1)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max error " << err << " over max |ref| " << scale;
}

TEST(CudaParityConv1d, ForwardDirectAndBackward) {
  LOOM_PARITY_BEGIN();
  const std::vector<Case> cases = {
      {2, 7, 3, 4, 3, 0}, {3, 5, 3, 2, 4, 2}, {1, 4, 5, 3, 1, 0}, {2, 40, 1024, 1024, 4, 0}};
  for (DType dt : {DType::Float64, DType::Float32}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " C " + std::to_string(c.C) + " K " +
                   std::to_string(c.K) + " P " + std::to_string(c.P));
      const double tol = dt == DType::Float64 ? 1e-12 : 1e-5;
      const Tensor x = random_tensor({c.B, c.T, c.C}, dt, gen, -1, 1);
      const Tensor w = random_tensor({c.O, c.C, c.K}, dt, gen, -0.1, 0.1);
      const Tensor b = random_tensor({c.O}, dt, gen, -0.1, 0.1);
      const Tensor xd = x.to(kCuda), wd = w.to(kCuda), bd = b.to(kCuda);
      const Tensor y = conv1d_forward(x, w, b, c.P);
      EXPECT_TRUE(near_scaled(y, conv1d_forward(xd, wd, bd, c.P), tol));
      if (c.C < 100) {  // the direct kernel is the reference, not meant for the big layer
        EXPECT_TRUE(near_scaled(y, conv1d_forward_direct(xd, wd, bd, c.P), tol));
      }
      const Tensor dy = random_tensor(y.shape(), dt, gen, -1, 1);
      const Conv1dGrads ref = conv1d_backward(dy, x, w, c.P);
      const Conv1dGrads got = conv1d_backward(dy.to(kCuda), xd, wd, c.P);
      EXPECT_TRUE(near_scaled(ref.x, got.x, tol));
      EXPECT_TRUE(near_scaled(ref.weight, got.weight, tol));
      EXPECT_TRUE(near_scaled(ref.bias, got.bias, tol));
    }
  }
}

TEST(CudaParityConv1d, RefusesHalf) {
  LOOM_PARITY_BEGIN();
  const Tensor x = random_tensor({1, 4, 2}, DType::Float16, gen).to(kCuda);
  const Tensor w = random_tensor({2, 2, 3}, DType::Float16, gen).to(kCuda);
  EXPECT_THROW(conv1d_forward(x, w, Tensor(), 0), Error);
}

}  // namespace
