// tests/cuda/parity_lstm_test.cpp: CPU-vs-CUDA parity of the LSTM layer's Tensor ops,
// lstm_layer_forward / lstm_layer_backward (tensor/lstm.h): the GEMMs of tensor/lstm.cpp and
// each backend's recurrence (tensor/cpu/lstm.cpp vs cuda/kernels/lstm.cu, per step or persistent).
//
// Every case runs forward and backward on both devices from the same inputs and compares y (every
// h_t and c_n) and every gradient (x, h0, c0, W_ih, W_hh, bias): float64, float32, and mixed
// precision (float16 or bfloat16 GEMM operands, float32 state); forward and reverse; persistent
// asked for or not; a batch-major x (whose gradient comes back with x's strides); with and
// without dc_n, dh0, dc0 and a recurrent-dropout mask. Shapes: the IMDB model's step (T = B = 100,
// in = 100, H = 100 and 64), odd sizes, one unit. The allocator's output blocks are poisoned.
// Tolerance (max |got - ref| / max |ref| per tensor): 1e-12 float64, 1e-5 float32: the GEMMs sum
// in other orders and libdevice's exp/tanh differ by an ulp; the recurrence carries that rounding
// from step to step without amplifying it (|W_hh| <= 1/sqrt(H), sigmoid' <= 1/4, tanh' <= 1).
// Mixed: 2e-3 (bfloat16 1e-2), see kMixedTol. Skips without a CUDA device.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tensor/lstm.h"
#include "tests/cuda/parity_util.h"

namespace {

using namespace loom;
using namespace loom::test;

// Mixed precision: both devices round h_t (and dL/dgates) to float16 after a float32 step that
// they sum in different orders (~1e-7 relative apart), so now and then an element rounds to the
// neighbouring half (2^-11 relative). Measured on the CPU at the IMDB size: moving the gates by
// 1e-6 relative moves the mixed results by at most 1e-4 relative (float32: 1.3e-6). 2e-3 leaves a
// margin of 20; a wrong operand, step or dtype is off by 1e-2 or more. bfloat16 GEMM operands
// (8 significant bits, not 11): the same nudge moves the results by at most 6.9e-4 relative
// (measured the same way, dh0 the worst); 1e-2 leaves a margin of 14.
constexpr double kMixedTol = 2e-3;
constexpr double kBf16Tol = 1e-2;

struct Case {
  int64_t T, B, in, H;
  DType state = DType::Float32, gemm = DType::Float32;
  bool reverse = false, persistent = false, batch_major = false;
  bool state_grads = true;  // dc_n given (dy[T] != 0), dh0 and dc0 wanted
  bool masked = false;      // recurrent dropout: h_{t-1} times a [B, H] mask (p = 0.3)
  std::string name() const {
    return std::string(dtype_name(state)) +
           (gemm != state ? "/" + std::string(dtype_name(gemm)) + " GEMMs" : "") + " T " +
           std::to_string(T) + " B " + std::to_string(B) + " in " + std::to_string(in) + " H " +
           std::to_string(H) + (reverse ? " reverse" : "") + (persistent ? " persistent" : "") +
           (batch_major ? " batch-major x" : "") + (state_grads ? "" : " no state gradients") +
           (masked ? " recurrent dropout" : "");
  }
  double tol() const {
    if (gemm == DType::BFloat16) return kBf16Tol;
    return gemm != state ? kMixedTol : state == DType::Float64 ? 1e-12 : 1e-5;
  }
};

struct Inputs {
  Tensor x, h0, c0, w_ih, w_hh, b_ih, b_hh, dy;
  Tensor h_mask;  // undefined unless the case is masked
};

// On the CPU. x (stored [B, T, in] when batch-major), h0, W_ih, W_hh in the GEMM dtype (so both
// devices start from the same halves), c0 and the biases in the state dtype. Weights in
// PyTorch's init range 1/sqrt(H), the regime the model trains in.
Inputs make_inputs(const Case& c, Generator& gen) {
  const double w = 1.0 / std::sqrt(static_cast<double>(c.H));
  const Shape x_shape = c.batch_major ? Shape{c.B, c.T, c.in} : Shape{c.T, c.B, c.in};
  Inputs in{random_tensor(x_shape, c.gemm, gen, -1, 1),
            random_tensor({c.B, c.H}, c.gemm, gen, -1, 1),
            random_tensor({c.B, c.H}, c.state, gen, -1, 1),
            random_tensor({4 * c.H, c.in}, c.gemm, gen, -w, w),
            random_tensor({4 * c.H, c.H}, c.gemm, gen, -w, w),
            random_tensor({4 * c.H}, c.state, gen, -w, w),
            random_tensor({4 * c.H}, c.state, gen, -w, w),
            random_tensor({c.T + 1, c.B, c.H}, c.state, gen, -1, 1),
            Tensor()};
  if (!c.state_grads) in.dy.narrow(0, c.T, 1).fill_(0);  // no gradient of c_n
  if (c.masked) {  // keep / (1 - p) with p = 0.3: the values nn/lstm.cpp draws
    const Tensor u = random_tensor({c.B, c.H}, c.state, gen, 0, 1);
    in.h_mask = where(gt(u, 0.3), full({c.B, c.H}, 1.0 / 0.7, c.state), zeros({c.B, c.H}, c.state));
  }
  return in;
}

struct LayerRun {
  Tensor y;
  LstmLayerGrads g;
  Shape x_strides;
};

LayerRun run(const Case& c, const Inputs& in, Device dev) {
  Tensor x = in.x.to(dev);
  if (c.batch_major) x = x.transpose(0, 1);  // [T, B, in] view of the dense [B, T, in]
  LstmLayerArgs args;
  args.reverse = c.reverse;
  args.gemm_dtype = c.gemm;
  args.persistent = c.persistent;  // a mask makes the GPU run per step even so
  if (c.masked) args.h_mask = in.h_mask.to(dev);
  const LstmLayerForward f =
      lstm_layer_forward(x, in.h0.to(dev), in.c0.to(dev), in.w_ih.to(dev), in.w_hh.to(dev),
                         in.b_ih.to(dev), in.b_hh.to(dev), args);
  LstmGradsWanted want;
  want.h0 = want.c0 = c.state_grads;
  return {f.y, lstm_layer_backward(in.dy.to(dev), f.saved, want), x.strides()};
}

// Poisons the device allocator's blocks of every size the op allocates (see parity_util.h).
void poison_outputs(const Case& c) {
  const std::size_t es = dtype_size(c.state);
  for (const int64_t n : {(c.T + 1) * c.B * c.H, c.T * c.B * c.H, c.T * c.B * 4 * c.H, c.B * c.H,
                          4 * c.H * c.in, 4 * c.H * c.H, c.T * c.B * c.in, 4 * c.H})
    poison_cuda_cache(static_cast<std::size_t>(n) * es);
}

void check(const Case& c, Generator& gen) {
  SCOPED_TRACE(c.name());
  const Inputs in = make_inputs(c, gen);
  const LayerRun ref = run(c, in, kCPU);
  poison_outputs(c);
  const LayerRun got = run(c, in, kCuda);
  const double tol = c.tol();
  ASSERT_EQ(got.y.dtype(), c.state);
  EXPECT_TRUE(expect_rel_close(ref.y.narrow(0, 0, c.T), got.y.narrow(0, 0, c.T), tol, "h"));
  EXPECT_TRUE(expect_rel_close(ref.y.select(0, c.T), got.y.select(0, c.T), tol, "c_n"));
  EXPECT_TRUE(expect_rel_close(ref.g.x, got.g.x, tol, "dx"));
  if (c.B > 1 && c.T > 1) {  // (the strides of a size-1 dim mean nothing)
    EXPECT_EQ(got.g.x.strides(), got.x_strides) << "dx comes back with x's strides";
  }
  EXPECT_TRUE(expect_rel_close(ref.g.w_ih, got.g.w_ih, tol, "dW_ih"));
  EXPECT_TRUE(expect_rel_close(ref.g.w_hh, got.g.w_hh, tol, "dW_hh"));
  EXPECT_TRUE(expect_rel_close(ref.g.bias, got.g.bias, tol, "dbias"));
  if (c.state_grads) {
    EXPECT_TRUE(expect_rel_close(ref.g.h0, got.g.h0, tol, "dh0"));
    EXPECT_TRUE(expect_rel_close(ref.g.c0, got.g.c0, tol, "dc0"));
  } else {
    EXPECT_FALSE(got.g.h0.defined() || got.g.c0.defined()) << "dh0/dc0 not wanted";
  }
}

const DType kF32 = DType::Float32, kF64 = DType::Float64, kF16 = DType::Float16,
            kBF16 = DType::BFloat16;

// Every option on small odd shapes (no unit lines up with a warp) and on one unit.
TEST(CudaParityLstm, EveryOptionOnOddShapes) {
  LOOM_PARITY_BEGIN();
  for (const auto& [state, gemm] : {std::pair{kF64, kF64}, std::pair{kF32, kF32},
                                    std::pair{kF32, kF16}, std::pair{kF32, kBF16}})
    for (bool reverse : {false, true})
      for (bool persistent : {false, true})
        for (bool batch_major : {false, true}) {
          check({5, 7, 11, 37, state, gemm, reverse, persistent, batch_major, !batch_major}, gen);
          check({3, 1, 1, 1, state, gemm, reverse, persistent, batch_major, batch_major}, gen);
        }
}

// Recurrent dropout (the h_mask of LstmLayerArgs): the GPU multiplies h_t by the mask before its
// cast to the GEMM dtype and masks dh through W_hh, per step, also when persistent is asked for.
TEST(CudaParityLstm, RecurrentDropoutMask) {
  LOOM_PARITY_BEGIN();
  for (const auto& [state, gemm] : {std::pair{kF64, kF64}, std::pair{kF32, kF32},
                                    std::pair{kF32, kF16}, std::pair{kF32, kBF16}})
    for (bool reverse : {false, true})
      for (bool persistent : {false, true}) {
        Case c{5, 7, 11, 37, state, gemm, reverse, persistent, false, true};
        c.masked = true;
        check(c, gen);
      }
  Case imdb{100, 100, 100, 100, kF32, kF32, false, true, true, false};
  imdb.masked = true;
  check(imdb, gen);
}

// The IMDB model's layer: batch-major x, T = B = 100, embeddings of 100, H = 100 and 64.
TEST(CudaParityLstm, TheImdbLayer) {
  LOOM_PARITY_BEGIN();
  for (const int64_t H : {int64_t(100), int64_t(64)})
    for (bool persistent : {false, true})
      check({100, 100, 100, H, kF32, kF32, false, persistent, true, false}, gen);
  check({100, 100, 100, 100, kF32, kF32, true, true, false, true}, gen);  // reverse
  check({100, 100, 100, 100, kF32, kF16, false, false, true, false}, gen);
  check({100, 100, 100, 100, kF32, kBF16, false, false, true, false}, gen);
  check({100, 100, 100, 100, kF64, kF64, false, true, true, true}, gen);
}

}  // namespace
