// tests/nn/conv1d_test.cpp: Conv1d (tensor/conv1d.h, nn/conv1d.h) and ELU: the im2col forward
// against the direct loop, gradchecks in float64, the torch.nn.Conv1d golden fixture
// (tests/reference/make_conv1d_golden.py), the module's init and names, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "nn/activation.h"
#include "nn/conv1d.h"
#include "nn_test_util.h"
#include "tensor/conv1d.h"
#include "tests/common/error_of.h"

using namespace loom;
using namespace loom::nn;
using loom::nn::testing::all_close;
using loom::nn::testing::Golden;
using loom::test::error_of;

namespace {

struct Case {
  int64_t B, T, C, O, K, P;
};
// Kernel 1 to 4, padding 0 to 3 (wider than the kernel), one-step outputs, a batch of 3.
const std::vector<Case> kCases = {{2, 7, 3, 4, 3, 0}, {1, 4, 2, 3, 4, 0}, {3, 5, 3, 2, 4, 2},
                                  {2, 6, 5, 3, 1, 0}, {1, 2, 2, 2, 3, 3}, {2, 9, 4, 5, 2, 1}};

std::string name_of(const Case& c) {
  return "B" + std::to_string(c.B) + " T" + std::to_string(c.T) + " C" + std::to_string(c.C) +
         " O" + std::to_string(c.O) + " K" + std::to_string(c.K) + " P" + std::to_string(c.P);
}

}  // namespace

TEST(Conv1dOp, Im2colMatchesTheDirectLoop) {
  Generator gen(3);
  for (DType dt : {DType::Float64, DType::Float32}) {
    for (const Case& c : kCases) {
      SCOPED_TRACE(name_of(c) + " " + dtype_name(dt));
      const Tensor x = randn({c.B, c.T, c.C}, gen, dt), w = randn({c.O, c.C, c.K}, gen, dt);
      const Tensor b = randn({c.O}, gen, dt);
      const double tol = dt == DType::Float64 ? 1e-12 : 1e-5;
      const Tensor y = conv1d_forward(x, w, b, c.P);
      EXPECT_EQ(y.shape(), Shape({c.B, c.T + 2 * c.P - c.K + 1, c.O}));
      EXPECT_TRUE(all_close(y, conv1d_forward_direct(x, w, b, c.P), tol, tol));
      EXPECT_TRUE(all_close(conv1d_forward(x, w, Tensor(), c.P),
                            conv1d_forward_direct(x, w, Tensor(), c.P), tol, tol));
    }
  }
}

TEST(Conv1dOp, ReadsViewsAndEmptyBatches) {
  Generator gen(4);
  // A transposed view [B, T, C] of a [B, C, T] buffer (PyTorch's layout) gives the same result.
  const Tensor xt = randn({2, 3, 6}, gen, DType::Float64),
               w = randn({4, 3, 2}, gen, DType::Float64);
  const Tensor x = xt.transpose(1, 2);
  EXPECT_TRUE(all_close(conv1d_forward(x, w, Tensor(), 1),
                        conv1d_forward_direct(x.contiguous(), w, Tensor(), 1), 1e-12, 1e-12));
  const Tensor y = conv1d_forward(zeros({0, 5, 3}, DType::Float64), w, Tensor(), 0);
  EXPECT_EQ(y.shape(), Shape({0, 4, 4}));
}

// The int8 forward is exactly "quantize each time step, multiply each tap in integers, rescale,
// sum the taps": the same as the float convolution of the dequantized x (per row) and the
// dequantized weight (per tap and output channel), up to float rounding. Against the float
// convolution of the originals it is within quantization error: each product carries about 1/255
// of its row's range and 1/254 of its channel's, a few percent of the largest output at most.
TEST(Conv1dOp, Int8IsTheConvolutionOfTheDequantizedInputs) {
  Generator gen(9);
  for (const Case& c : kCases) {
    SCOPED_TRACE(name_of(c));
    const Tensor x = randn({c.B, c.T, c.C}, gen), w = randn({c.O, c.C, c.K}, gen);
    const Tensor b = randn({c.O}, gen);
    const QuantizedConv1d qw = quantize_conv1d(w);
    ASSERT_EQ(qw.taps.size(), static_cast<size_t>(c.K));
    const Tensor y = conv1d_forward_int8(x, qw, b, c.P);
    ASSERT_EQ(y.shape(), Shape({c.B, c.T + 2 * c.P - c.K + 1, c.O}));
    QuantizedConv1d unpacked = qw;  // the kernel packs the taps itself: the same bits
    unpacked.packed.clear();
    EXPECT_EQ(max(abs(sub(conv1d_forward_int8(x, unpacked, b, c.P), y))).item<double>(), 0.0);
    const Tensor x_hat = dequantize(quantize_rows(x.reshape({c.B * c.T, c.C}))).view(x.shape());
    EXPECT_TRUE(all_close(y, conv1d_forward(x_hat, dequantize(qw), b, c.P), 1e-4, 1e-4));
    const Tensor exact = conv1d_forward(x, w, b, c.P);
    EXPECT_LT(max(abs(sub(y, exact))).item<double>(), 0.05 * max(abs(exact)).item<double>());
    EXPECT_GT(max(abs(sub(y, exact))).item<double>(), 0.0) << "int8 must differ somewhere";
  }
  const QuantizedConv1d two_channels = quantize_conv1d(zeros({2, 2, 3}));
  EXPECT_NE(error_of([&] {
              conv1d_forward_int8(zeros({1, 5, 3}), two_channels, Tensor(), 0);
            }).find("in_channels = x's last dim = 3"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              quantize_conv1d(zeros({2, 3}));
            }).find("quantize_conv1d: weight"),
            std::string::npos);
}

TEST(Conv1dOp, Gradcheck) {
  Generator gen(5);
  for (const Case& c : kCases) {
    SCOPED_TRACE(name_of(c));
    const auto f = [p = c.P](const std::vector<Variable>& v) {
      return conv1d(v[0], v[1], v[2], p);
    };
    EXPECT_GRADCHECK(
        f, {randn({c.B, c.T, c.C}, gen, DType::Float64),
            randn({c.O, c.C, c.K}, gen, DType::Float64), randn({c.O}, gen, DType::Float64)});
  }
  const auto no_bias = [](const std::vector<Variable>& v) { return conv1d(v[0], v[1], {}, 1); };
  EXPECT_GRADCHECK(no_bias,
                   {randn({2, 5, 3}, gen, DType::Float64), randn({2, 3, 3}, gen, DType::Float64)});
}

// The Seq2CNN head on a tiny scale: conv -> elu -> max over time -> concat, gradchecked whole.
TEST(Conv1dOp, GradcheckConvEluMaxConcat) {
  Generator gen(6);
  const auto f = [](const std::vector<Variable>& v) {
    const Variable a = max(elu(conv1d(v[0], v[1], v[2], 0), 0.25), 1);
    const Variable b = max(leaky_relu(conv1d(v[0], v[3], v[4], 0), 0.01), 1);
    return concat({a, b}, 1);
  };
  EXPECT_GRADCHECK(f, {randn({2, 6, 3}, gen, DType::Float64), randn({4, 3, 3}, gen, DType::Float64),
                       randn({4}, gen, DType::Float64), randn({2, 3, 4}, gen, DType::Float64),
                       randn({2}, gen, DType::Float64)});
}

TEST(Conv1dOp, MatchesTorchConv1dGolden) {
  const Golden g("conv1d");
  for (const std::string c : {"k3", "k4_pad2", "k1"}) {
    SCOPED_TRACE(c);
    const int64_t padding = c == "k4_pad2" ? 2 : 0;
    for (DType dt : {DType::Float64, DType::Float32}) {
      const double tol = dt == DType::Float64 ? 1e-12 : 1e-5;
      const auto in = [&](const char* key) { return g[c + "." + key].to(dt); };
      Variable x(in("x"), true), w(in("weight"), true), b(in("bias"), true);
      const Variable y = conv1d(x, w, b, padding);
      EXPECT_TRUE(all_close(y.data(), in("y"), tol, tol));
      y.backward(in("dy"));
      EXPECT_TRUE(all_close(x.grad(), in("dx"), tol, tol));
      EXPECT_TRUE(all_close(w.grad(), in("dweight"), tol, tol));
      EXPECT_TRUE(all_close(b.grad(), in("dbias"), tol, tol));
      const Tensor act = elu(in("y"), 0.25);
      EXPECT_TRUE(all_close(act, in("elu"), tol, tol));
      EXPECT_TRUE(all_close(max(act, 1), in("pooled"), tol, tol));
    }
  }
}

TEST(Conv1dModule, InitNamesAndShapesFollowPyTorch) {
  Generator gen(7);
  Conv1d conv(Conv1dOptions(16, 8, 3), gen);
  EXPECT_EQ(conv.weight.shape(), Shape({8, 16, 3}));
  EXPECT_EQ(conv.bias.shape(), Shape({8}));
  const double bound = 1.0 / std::sqrt(16.0 * 3.0);
  EXPECT_LE(max(abs(conv.weight.data())).item<double>(), bound);
  EXPECT_GT(max(abs(conv.weight.data())).item<double>(), 0.9 * bound);
  EXPECT_LE(max(abs(conv.bias.data())).item<double>(), bound);
  std::vector<std::string> names;
  for (const auto& [name, v] : conv.named_parameters())
    names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias"}));
  const Variable y = conv.forward(Variable(randn({2, 10, 16}, gen)));
  EXPECT_EQ(y.shape(), Shape({2, 8, 8}));
  Conv1d no_bias(Conv1dOptions(4, 2, 2).bias(false).padding(1), gen);
  EXPECT_FALSE(no_bias.bias.defined());
  EXPECT_EQ(no_bias.forward(Variable(randn({1, 3, 4}, gen))).shape(), Shape({1, 4, 2}));
}

TEST(Conv1dModule, BadInputNamesTheArgument) {
  Conv1d conv(Conv1dOptions(4, 2, 3));
  EXPECT_NE(error_of([&] {
              conv.forward(Variable(zeros({2, 5, 3})));
            }).find("in_channels = 4"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              conv.forward(Variable(zeros({2, 2, 4})));
            }).find("shorter than the"),
            std::string::npos);
  EXPECT_NE(error_of([] { Conv1d(Conv1dOptions(4, 2, 0)); }).find("kernel_size"),
            std::string::npos);
  const Tensor x = zeros({1, 5, 4}), w = zeros({2, 4, 3});
  EXPECT_NE(error_of([&] {
              conv1d_forward(x, zeros({2, 3, 3}), Tensor(), 0);
            }).find("weight"),
            std::string::npos);
  EXPECT_NE(error_of([&] { conv1d_forward(x, w, zeros({3}), 0); }).find("bias"), std::string::npos);
  EXPECT_NE(error_of([&] { conv1d_forward(x, w, Tensor(), -1); }).find("padding"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              conv1d_forward(x.to(DType::Float16), w.to(DType::Float16), {}, 0);
            }).find("float32 or float64"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              conv1d_backward(zeros({1, 4, 2}), x, w, 0);
            }).find("dy"),
            std::string::npos);
}

TEST(Activations, EluModuleAndValues) {
  const Tensor x = tensor({-2, -0.5, 0, 1.5}, {4}, DType::Float64);
  const Tensor want =
      tensor({0.25 * std::expm1(-2.0), 0.25 * std::expm1(-0.5), 0, 1.5}, {4}, DType::Float64);
  ELU act(ELUOptions().alpha(0.25));
  EXPECT_TRUE(all_close(act.forward(Variable(x)).data(), want, 1e-15, 1e-15));
  EXPECT_TRUE(all_close(elu(x.to(DType::Float32), 0.25), want, 1e-7, 1e-6));
  EXPECT_NE(error_of([&] { elu(x, 0.0); }).find("alpha"), std::string::npos);
  LeakyReLU leaky(LeakyReLUOptions().negative_slope(0.2));
  EXPECT_TRUE(all_close(leaky.forward(Variable(x)).data(),
                        tensor({-0.4, -0.1, 0, 1.5}, {4}, DType::Float64), 1e-15, 1e-15));
}
