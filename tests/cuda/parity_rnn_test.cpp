// tests/cuda/parity_rnn_test.cpp: CPU-vs-CUDA parity of the tanh RNN layer's Tensor ops,
// rnn_layer_forward / rnn_layer_backward (tensor/rnn.h): the GEMMs of tensor/rnn.cpp and each
// backend's recurrence (tensor/cpu/rnn.cpp vs cuda/kernels/rnn.cu).
//
// Forward and backward from the same inputs on both devices; h and every gradient (x, h0, W_ih,
// W_hh, b_ih, b_hh) compared as whole tensors, max |got - ref| / max |ref| (expect_rel_close).
// Tolerance 1e-12 in float64 (the GPU forms the step's sums in another order than the CPU, which
// follows the composed ops to the bit, and libdevice's tanh differs from glibc's by an ulp: ~1e-16
// per step, carried without amplification since |W_hh| <= 1/sqrt(H) and tanh' <= 1), 1e-5 in
// float32. Shapes: odd sizes, one unit, the airline model's (T 12, B 1, H 50) and a wide batch.
// Skips without a CUDA device.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "tensor/rnn.h"
#include "tests/cuda/parity_util.h"

namespace {

using namespace loom;
using namespace loom::test;

void check(int64_t T, int64_t B, int64_t in, int64_t H, DType dt, Generator& gen) {
  SCOPED_TRACE(std::string(dtype_name(dt)) + " T " + std::to_string(T) + " B " + std::to_string(B) +
               " in " + std::to_string(in) + " H " + std::to_string(H));
  const double w = 1.0 / std::sqrt(static_cast<double>(H));
  const Tensor x = random_tensor({T, B, in}, dt, gen, -1, 1);
  const Tensor h0 = random_tensor({B, H}, dt, gen, -1, 1);
  const Tensor w_ih = random_tensor({H, in}, dt, gen, -w, w);
  const Tensor w_hh = random_tensor({H, H}, dt, gen, -w, w);
  const Tensor b_ih = random_tensor({H}, dt, gen, -w, w);
  const Tensor b_hh = random_tensor({H}, dt, gen, -w, w);
  const Tensor dh = random_tensor({T, B, H}, dt, gen, -1, 1);
  auto run = [&](Device dev) {
    const RnnLayerForward f = rnn_layer_forward(x.to(dev), h0.to(dev), w_ih.to(dev), w_hh.to(dev),
                                                b_ih.to(dev), b_hh.to(dev));
    return std::make_pair(f.h, rnn_layer_backward(dh.to(dev), f.saved));
  };
  const auto ref = run(kCPU);
  poison_cuda_cache(static_cast<std::size_t>(T * B * H) * dtype_size(dt));
  const auto got = run(kCuda);
  const double tol = dt == DType::Float64 ? 1e-12 : 1e-5;
  EXPECT_TRUE(expect_rel_close(ref.first, got.first, tol, "h"));
  EXPECT_TRUE(expect_rel_close(ref.second.x, got.second.x, tol, "dx"));
  EXPECT_TRUE(expect_rel_close(ref.second.h0, got.second.h0, tol, "dh0"));
  EXPECT_TRUE(expect_rel_close(ref.second.w_ih, got.second.w_ih, tol, "dW_ih"));
  EXPECT_TRUE(expect_rel_close(ref.second.w_hh, got.second.w_hh, tol, "dW_hh"));
  EXPECT_TRUE(expect_rel_close(ref.second.b_ih, got.second.b_ih, tol, "db_ih"));
  EXPECT_TRUE(expect_rel_close(ref.second.b_hh, got.second.b_hh, tol, "db_hh"));
}

TEST(CudaParityRnn, ForwardAndBackwardMatchTheCpu) {
  LOOM_PARITY_BEGIN();
  for (DType dt : {DType::Float64, DType::Float32}) {
    check(5, 7, 11, 37, dt, gen);
    check(3, 1, 1, 1, dt, gen);
    check(12, 1, 1, 50, dt, gen);  // the airline study's model
    check(20, 64, 16, 50, dt, gen);
  }
}

}  // namespace
