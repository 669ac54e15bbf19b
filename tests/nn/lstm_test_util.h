// tests/nn/lstm_test_util.h: shared helpers for the LSTM tests (lab 04).
//
// A test configuration (sizes and options), random parameters for it in PyTorch's order
// (layer, direction; w_ih, w_hh, b_ih, b_hh), and one function that runs lstm_forward and packs
// output, h_n and c_n into one flat Variable, which is what gradcheck and the comparisons need.
#pragma once

#include <string>
#include <vector>

#include "autograd/functions.h"
#include "nn/lstm.h"

namespace loom::nn::testing {

struct LstmCase {
  int64_t T = 3, B = 2, in = 3, H = 2, layers = 1;
  bool bidirectional = false, batch_first = false, with_state = false;
  std::string name() const {
    return "T" + std::to_string(T) + "B" + std::to_string(B) + "in" + std::to_string(in) + "H" +
           std::to_string(H) + "L" + std::to_string(layers) + (bidirectional ? "_bidir" : "") +
           (batch_first ? "_bf" : "") + (with_state ? "_h0c0" : "");
  }
  LSTMOptions options(LstmImpl impl) const {
    return LSTMOptions(in, H)
        .num_layers(layers)
        .bidirectional(bidirectional)
        .batch_first(batch_first)
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
  const LstmOutput y = lstm_forward(x, h0, c0, params, c.options(impl));
  return concat({flat(y.output), flat(y.h_n), flat(y.c_n)}, 0);
}

}  // namespace loom::nn::testing
