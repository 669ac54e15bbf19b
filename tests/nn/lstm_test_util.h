// tests/nn/lstm_test_util.h: shared helpers for the LSTM tests (lab 04).
//
// A test configuration (sizes and options), random parameters for it in PyTorch's order
// (layer, direction; w_ih, w_hh, b_ih, b_hh), and one function that runs lstm_forward and packs
// output, h_n and c_n into one flat Variable, which is what gradcheck and the comparisons need;
// and the comparison of two implementations (forward and every input gradient) on one case.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "nn/lstm.h"

namespace loom::nn::testing {

struct LstmCase {
  int64_t T = 3, B = 2, in = 3, H = 2, layers = 1;
  bool bidirectional = false, batch_first = false, with_state = false;
  double recurrent_dropout = 0;  // > 0: run in training mode with the masks of a fixed seed
  std::string name() const {
    return "T" + std::to_string(T) + "B" + std::to_string(B) + "in" + std::to_string(in) + "H" +
           std::to_string(H) + "L" + std::to_string(layers) + (bidirectional ? "_bidir" : "") +
           (batch_first ? "_bf" : "") + (with_state ? "_h0c0" : "") +
           (recurrent_dropout > 0 ? "_recdrop" : "");
  }
  LSTMOptions options(LstmImpl impl) const {
    return LSTMOptions(in, H)
        .num_layers(layers)
        .bidirectional(bidirectional)
        .batch_first(batch_first)
        .recurrent_dropout(recurrent_dropout)
        .impl(impl);
  }
  int64_t D() const { return bidirectional ? 2 : 1; }
};

// Inputs in order: x, [h0, c0,] then 4 tensors per (layer, direction), all U(-1, 1).
inline std::vector<Tensor> make_inputs(const LstmCase& c, DType dtype, uint64_t seed) {
  Generator gen(seed);
  const TensorOptions opt(dtype);
  std::vector<Tensor> v;
  v.push_back(c.batch_first ? uniform({c.B, c.T, c.in}, -1, 1, gen, opt)
                            : uniform({c.T, c.B, c.in}, -1, 1, gen, opt));
  if (c.with_state) {
    v.push_back(uniform({c.layers * c.D(), c.B, c.H}, -1, 1, gen, opt));
    v.push_back(uniform({c.layers * c.D(), c.B, c.H}, -1, 1, gen, opt));
  }
  for (int64_t l = 0; l < c.layers; ++l) {
    const int64_t in = l == 0 ? c.in : c.D() * c.H;
    for (int64_t d = 0; d < c.D(); ++d) {
      v.push_back(uniform({4 * c.H, in}, -1, 1, gen, opt));
      v.push_back(uniform({4 * c.H, c.H}, -1, 1, gen, opt));
      v.push_back(uniform({4 * c.H}, -1, 1, gen, opt));
      v.push_back(uniform({4 * c.H}, -1, 1, gen, opt));
    }
  }
  return v;
}

inline Variable flat(const Variable& v) {
  return reshape(v, {v.numel()});
}

// Runs the LSTM on Variables laid out as make_inputs makes them; returns
// concat(output, h_n, c_n) flattened.
inline Variable run_packed(const LstmCase& c, LstmImpl impl, const std::vector<Variable>& in) {
  size_t k = 0;
  const Variable x = in[k++];
  Variable h0, c0;
  if (c.with_state) {
    h0 = in[k++];
    c0 = in[k++];
  }
  std::vector<LstmParams> params;
  while (k < in.size()) {
    params.push_back({in[k], in[k + 1], in[k + 2], in[k + 3]});
    k += 4;
  }
  // With recurrent dropout: training mode, and the same masks on every call (a fixed seed), so
  // gradcheck's many evaluations and both implementations see one function.
  Generator masks(99);
  const LstmOutput y =
      lstm_forward(x, h0, c0, params, c.options(impl), c.recurrent_dropout > 0, &masks);
  return concat({flat(y.output), flat(y.h_n), flat(y.c_n)}, 0);
}

// A random case, each size uniform in [1, max] and each option a coin flip (picked in a fixed
// order, so a seed gives the same cases everywhere).
inline LstmCase random_case(std::mt19937& rng, int max_T, int max_B, int max_in, int max_H,
                            int max_layers) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  LstmCase c;
  c.T = pick(1, max_T);
  c.B = pick(1, max_B);
  c.in = pick(1, max_in);
  c.H = pick(1, max_H);
  c.layers = pick(1, max_layers);
  c.bidirectional = pick(0, 1);
  c.batch_first = pick(0, 1);
  c.with_state = pick(0, 1);
  return c;
}

// The packed output and the gradient of every input of one forward + backward(upstream).
struct RunResult {
  Tensor value;
  std::vector<Tensor> grads;
};

inline RunResult run_with_upstream(const LstmCase& c, LstmImpl impl,
                                   const std::vector<Tensor>& inputs, const Tensor& upstream) {
  std::vector<Variable> vars;
  for (const Tensor& t : inputs)
    vars.emplace_back(t.clone(), true);
  const Variable y = run_packed(c, impl, vars);
  y.backward(upstream);
  RunResult r{y.data(), {}};
  for (const Variable& v : vars)
    r.grads.push_back(v.grad());
  return r;
}

// max |a - b| over the elements (a gtest failure, and only the common prefix, on a shape mismatch).
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < va.size() && i < vb.size(); ++i)
    m = std::max(m, std::fabs(va[i] - vb[i]));
  return m;
}

// Implementations `a` and `b` on the same inputs (make_inputs(c, dtype, seed)) and the same
// random upstream gradient: the output, h_n, c_n and every input's gradient agree within `tol`.
inline void expect_impls_agree(const LstmCase& c, LstmImpl a, LstmImpl b, DType dtype, double tol,
                               uint64_t seed) {
  SCOPED_TRACE(c.name() + " " + dtype_name(dtype));
  const std::vector<Tensor> inputs = make_inputs(c, dtype, seed);
  const int64_t n = c.T * c.B * c.D() * c.H + 2 * c.layers * c.D() * c.B * c.H;  // packed size
  Generator g(seed + 1);
  const Tensor u = uniform({n}, -1, 1, g, dtype);
  const RunResult ra = run_with_upstream(c, a, inputs, u);
  const RunResult rb = run_with_upstream(c, b, inputs, u);
  EXPECT_LE(max_abs_diff(ra.value, rb.value), tol) << "forward";
  for (size_t i = 0; i < inputs.size(); ++i) {
    ASSERT_TRUE(ra.grads[i].defined() && rb.grads[i].defined()) << "input " << i;
    EXPECT_LE(max_abs_diff(ra.grads[i], rb.grads[i]), tol) << "gradient of input " << i;
  }
}

}  // namespace loom::nn::testing
