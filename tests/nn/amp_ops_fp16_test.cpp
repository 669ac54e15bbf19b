// tests/nn/amp_ops_fp16_test.cpp: float16 against float32 for every op of tensor/ops.h (forward)
// and every differentiable op of autograd/functions.h (backward), lab 07.
//
// Inputs are drawn in float32 and rounded to float16 once; the float32 reference runs on those
// same rounded values (widened exactly). So a difference measures only what the op does in
// float16, not the (separate, well-known) error of storing inputs in float16. Each tolerance is
// derived, not tuned: the argument sits above check_forward (three kinds of forward op) and
// check_backward (a norm-wise bound per rule).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "autograd/functions.h"
#include "tensor/ops.h"

namespace loom {
namespace {

constexpr double kU = 1.0 / 2048;           // 2^-11
constexpr double kAtol = 1.0 / (1 << 24);   // 2^-24
constexpr double kEps32 = 1.0 / (1 << 24);  // float32's unit roundoff
constexpr DType kF16 = DType::Float16, kF32 = DType::Float32;

// float32 values that are exactly representable in float16.
Tensor rounded(const Tensor& x) {
  return x.to(kF16).to(kF32);
}

struct Inputs {
  Tensor a, b, pos, row, mask, idx, idx_rep, src;
};

Inputs make_inputs() {
  Generator gen(2024);
  Inputs in;
  in.a = rounded(uniform({4, 8}, -2, 2, gen));
  in.b = rounded(uniform({4, 8}, -2, 2, gen));
  in.pos = rounded(uniform({4, 8}, 0.5, 2, gen));
  in.row = rounded(uniform({8}, -2, 2, gen));
  in.mask = gt(uniform({4, 8}, 0, 1, gen), 0.5);
  // b equals a where mask is set, so eq/le/ge see ties as well as strict orderings.
  in.b = where(in.mask, in.a, in.b);
  in.idx = from_vector<int64_t>({3, 0, 2}, {3});
  in.idx_rep = from_vector<int64_t>({1, 3, 1, 0, 3}, {5});  // rows 1 and 3 repeat: 2 adds each
  in.src = rounded(uniform({5, 8}, -2, 2, gen));
  return in;
}

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

enum class Kind { Exact, Rounded, Accumulated };

struct Case {
  std::string name;
  Fn f;
  std::vector<Tensor> inputs;  // float32, float16-representable (Bool/Int64 passed as is)
  Kind kind = Kind::Exact;
  double rel_k = 0;  // roundings of the result: rel_k * u * |y32|
  double mag_k = 0;  // Accumulated: + mag_k * f(|inputs|)
};

std::vector<Tensor> to_dtype(const std::vector<Tensor>& xs, DType dt) {
  std::vector<Tensor> out;
  for (const Tensor& x : xs)
    out.push_back(x.dtype() == kF32 ? x.to(dt) : x);
  return out;
}

// The forward tolerances, with u = 2^-11 (float16's unit roundoff: round to nearest, 11-bit
// significand) and atol = 2^-24 (float16's smallest subnormal: a result that lands among the
// subnormals is off by up to half of that, whatever its relative error):
//  - exact: ops that only move, select or compare values (neg, abs, sign, relu, max, min,
//    clamp, where, masked_fill, comparisons, argmax, concat, stack, split, chunk,
//    index_select, cast), since every float16 value is exactly a float32 value.
//  - one rounding, |y16 - y32| <= u |y32| (+ atol): the CPU computes float16 elementwise ops
//    in float and rounds once on store (tensor/README.md), and the float32 kernel evaluates the
//    same float function, so only that final rounding differs. (+ 2^-24 |y32| for the float32
//    reference's own rounding.)
//  - accumulated (sum, mean, matmul, sum_to_shape, index_add): both dtypes accumulate in
//    float, possibly in different orders, so the sums may differ by 2 n 2^-24 sum|x_i| before
//    the float16 result is rounded (+ u |y32|). mean rounds twice (the sum, then the division):
//    2u. index_add rounds after every addition: one u of the running magnitude per repeat.
//    The magnitude sum|x_i| is the op applied to |inputs| (all these ops are linear).
void check_forward(const Case& c) {
  SCOPED_TRACE(c.name);
  const Tensor y16 = c.f(to_dtype(c.inputs, kF16));
  const Tensor y32 = c.f(c.inputs);
  ASSERT_EQ(y16.shape(), y32.shape());
  if (y32.dtype() == kF32)
    EXPECT_EQ(y16.dtype(), kF16);  // it really ran in float16
  else
    EXPECT_EQ(y16.dtype(), y32.dtype());  // Bool / Int64 results
  const std::vector<double> g = y16.to_vector<double>(), w = y32.to_vector<double>();
  std::vector<double> mag(g.size(), 0.0);
  if (c.kind == Kind::Accumulated) {
    std::vector<Tensor> abs_in;
    for (const Tensor& x : c.inputs)
      abs_in.push_back(x.dtype() == kF32 ? abs(x) : x);
    mag = c.f(abs_in).to_vector<double>();
  }
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (c.kind == Kind::Exact) {
      ASSERT_EQ(g[i], w[i]) << "element " << i;
      continue;
    }
    const double bound = (c.rel_k * kU + kEps32) * std::fabs(w[i]) + c.mag_k * mag[i] + kAtol;
    ASSERT_LE(std::fabs(g[i] - w[i]), bound)
        << "element " << i << ": float16 " << g[i] << ", float32 " << w[i];
  }
}

// Accumulation slack for sums of n terms in float, in two possibly different orders.
double acc(int64_t n) {
  return 2.0 * static_cast<double>(n) * kEps32;
}

// The forward cases, in three groups: elementwise (binary, with a scalar, operators, unary,
// selection), reductions and matmul, then joining, splitting and indexing.
std::vector<Case> elementwise_cases(const Inputs& in) {
  const Tensor a = in.a, b = in.b, pos = in.pos, row = in.row, mask = in.mask;
  const auto R = Kind::Rounded, E = Kind::Exact;
  return {
      // elementwise binary (broadcasting)
      {"add", [](auto& v) { return add(v[0], v[1]); }, {a, b}, R, 1},
      {"add broadcast", [](auto& v) { return add(v[0], v[1]); }, {a, row}, R, 1},
      {"sub", [](auto& v) { return sub(v[0], v[1]); }, {a, b}, R, 1},
      {"mul", [](auto& v) { return mul(v[0], v[1]); }, {a, b}, R, 1},
      {"div", [](auto& v) { return div(v[0], v[1]); }, {a, pos}, R, 1},
      {"maximum", [](auto& v) { return maximum(v[0], v[1]); }, {a, b}, E},
      {"minimum", [](auto& v) { return minimum(v[0], v[1]); }, {a, b}, E},
      {"pow", [](auto& v) { return pow(v[0], v[1]); }, {pos, b}, R, 1},
      {"eq", [](auto& v) { return eq(v[0], v[1]); }, {a, b}, E},
      {"ne", [](auto& v) { return ne(v[0], v[1]); }, {a, b}, E},
      {"lt", [](auto& v) { return lt(v[0], v[1]); }, {a, b}, E},
      {"le", [](auto& v) { return le(v[0], v[1]); }, {a, b}, E},
      {"gt", [](auto& v) { return gt(v[0], v[1]); }, {a, b}, E},
      {"ge", [](auto& v) { return ge(v[0], v[1]); }, {a, b}, E},
      {"gt scalar", [](auto& v) { return gt(v[0], 0.5); }, {a}, E},
      {"lt scalar", [](auto& v) { return lt(v[0], 0.5); }, {a}, E},
      // with a scalar (computed in float, then rounded once)
      {"add s", [](auto& v) { return add(v[0], 0.3); }, {a}, R, 1},
      {"sub s", [](auto& v) { return sub(v[0], 0.3); }, {a}, R, 1},
      {"rsub s", [](auto& v) { return rsub(0.3, v[0]); }, {a}, R, 1},
      {"mul s", [](auto& v) { return mul(v[0], 0.3); }, {a}, R, 1},
      {"div s", [](auto& v) { return div(v[0], 0.3); }, {a}, R, 1},
      {"rdiv s", [](auto& v) { return rdiv(1.5, v[0]); }, {pos}, R, 1},
      {"pow s", [](auto& v) { return pow(v[0], 1.5); }, {pos}, R, 1},
      {"clamp", [](auto& v) { return clamp(v[0], -0.5, 0.5); }, {a}, E},
      // operators (thin wrappers over the functions above)
      {"a + b", [](auto& v) { return v[0] + v[1]; }, {a, b}, R, 1},
      {"a - b", [](auto& v) { return v[0] - v[1]; }, {a, b}, R, 1},
      {"a * b", [](auto& v) { return v[0] * v[1]; }, {a, b}, R, 1},
      {"a / b", [](auto& v) { return v[0] / v[1]; }, {a, pos}, R, 1},
      {"a + s, s + a", [](auto& v) { return (v[0] + 0.25) * (0.5 + v[0]); }, {a}, R, 3},
      {"a - s, s - a", [](auto& v) { return (v[0] - 0.25) / (3.0 - v[0]); }, {a}, R, 3},
      {"a * s, s * a, a / s, s / a",
       [](auto& v) { return (v[0] * 0.5) * (0.5 * v[0]) + v[0] / 2.0 + 1.0 / v[0]; },
       {pos},
       R,
       5},
      {"-a", [](auto& v) { return -v[0]; }, {a}, E},
      // unary
      {"neg", [](auto& v) { return neg(v[0]); }, {a}, E},
      {"exp", [](auto& v) { return exp(v[0]); }, {a}, R, 1},
      {"log", [](auto& v) { return log(v[0]); }, {pos}, R, 1},
      {"tanh", [](auto& v) { return tanh(v[0]); }, {a}, R, 1},
      {"sigmoid", [](auto& v) { return sigmoid(v[0]); }, {a}, R, 1},
      {"relu", [](auto& v) { return relu(v[0]); }, {a}, E},
      {"leaky_relu", [](auto& v) { return leaky_relu(v[0], 0.1); }, {a}, R, 1},
      {"sqrt", [](auto& v) { return sqrt(v[0]); }, {pos}, R, 1},
      {"abs", [](auto& v) { return abs(v[0]); }, {a}, E},
      {"sign", [](auto& v) { return sign(v[0]); }, {a}, E},
      // selection
      {"where", [mask](auto& v) { return where(mask, v[0], v[1]); }, {a, b}, E},
      {"masked_fill", [mask](auto& v) { return masked_fill(v[0], mask, 0.25); }, {a}, E},
      {"cast to float32", [](auto& v) { return cast(v[0], kF32).to(v[0].dtype()); }, {a}, E},
  };
}

std::vector<Case> reduction_and_matmul_cases(const Inputs& in) {
  const Tensor a = in.a, b = in.b;
  const auto E = Kind::Exact, A = Kind::Accumulated;
  return {
      // reductions
      {"sum", [](auto& v) { return sum(v[0]); }, {a}, A, 1, acc(32)},
      {"sum dim 1", [](auto& v) { return sum(v[0], 1); }, {a}, A, 1, acc(8)},
      {"sum dim 0 keepdim", [](auto& v) { return sum(v[0], 0, true); }, {a}, A, 1, acc(4)},
      {"mean", [](auto& v) { return mean(v[0]); }, {a}, A, 2, acc(32)},
      {"mean dim 1", [](auto& v) { return mean(v[0], 1); }, {a}, A, 2, acc(8)},
      {"max", [](auto& v) { return max(v[0]); }, {a}, E},
      {"max dim 1", [](auto& v) { return max(v[0], 1); }, {a}, E},
      {"min", [](auto& v) { return min(v[0]); }, {a}, E},
      {"min dim 0", [](auto& v) { return min(v[0], 0); }, {a}, E},
      {"argmax", [](auto& v) { return argmax(v[0]); }, {a}, E},
      {"argmax dim 1", [](auto& v) { return argmax(v[0], 1, true); }, {a}, E},
      {"sum_to_shape",
       [](auto& v) {
         return sum_to_shape(v[0], {1, 8});
       },
       {a},
       A,
       1,
       acc(4)},
      // matmul: 8-term dot products, float accumulation, one rounding
      {"matmul", [](auto& v) { return matmul(v[0], v[1].t()); }, {a, b}, A, 1, acc(8)},
      {"matmul batched",
       [](auto& v) {
         return matmul(v[0].reshape({2, 2, 8}), v[1].reshape({2, 8, 2}));
       },
       {a, b},
       A,
       1,
       acc(8)},
  };
}

std::vector<Case> join_and_index_cases(const Inputs& in) {
  const Tensor a = in.a, b = in.b;
  const auto E = Kind::Exact, A = Kind::Accumulated;
  return {
      // joining and splitting
      {"concat",
       [](auto& v) {
         return concat({v[0], v[1]}, 1);
       },
       {a, b},
       E},
      {"stack",
       [](auto& v) {
         return stack({v[0], v[1]}, 0);
       },
       {a, b},
       E},
      {"split first", [](auto& v) { return split(v[0], 3, 1).front(); }, {a}, E},
      {"split last", [](auto& v) { return split(v[0], 3, 1).back(); }, {a}, E},
      {"split sizes",
       [](auto& v) {
         return split(v[0], std::vector<int64_t>{1, 3}, 0)[1];
       },
       {a},
       E},
      {"chunk", [](auto& v) { return chunk(v[0], 2, 0)[1]; }, {a}, E},
      // indexing: index_add rounds after each addition; rows 1 and 3 get two additions
      {"index_select", [](auto& v) { return index_select(v[0], 0, v[1]); }, {a, in.idx}, E},
      {"index_add",
       [](auto& v) { return index_add(v[0], 0, v[1], v[2]); },
       {a, in.idx_rep, in.src},
       A,
       0,
       2 * kU + acc(3)},
      {"index_add_",
       [](auto& v) {
         const Tensor out = v[0].clone();
         index_add_(out, 0, v[1], v[2]);
         return out;
       },
       {a, in.idx_rep, in.src},
       A,
       0,
       2 * kU + acc(3)},
  };
}

TEST(AmpOpsFp16, EveryTensorOpMatchesFloat32Forward) {
  const Inputs in = make_inputs();
  for (const std::vector<Case>& group :
       {elementwise_cases(in), reduction_and_matmul_cases(in), join_and_index_cases(in)}) {
    for (const Case& c : group)
      check_forward(c);
  }
}

// ---- backward ----------------------------------------------------------------------------

using VFn = std::function<Variable(const std::vector<Variable>&)>;

struct GradCase {
  std::string name;
  VFn f;
  std::vector<Tensor> inputs;  // float32, float16-representable; all get gradients
  double k;                    // roundings along the longest chain
  double s = 1;                // terms summed per gradient element (see check_backward)
};

// Gradients of sum(f(x) * g) for each input, in `dt`.
std::vector<Tensor> grads(const GradCase& c, DType dt, const Tensor& g) {
  std::vector<Variable> vs;
  for (const Tensor& x : c.inputs)
    vs.emplace_back(x.to(dt), true);
  const Variable y = c.f(vs);
  y.backward(g.to(y.dtype()));
  std::vector<Tensor> out;
  for (const Variable& v : vs) {
    EXPECT_TRUE(v.grad().defined()) << c.name;
    EXPECT_EQ(v.grad().dtype(), dt) << c.name;
    out.push_back(v.grad());
  }
  return out;
}

// The backward tolerance. Every rule here multiplies the upstream gradient g by O(1) factors
// computed from saved, rounded values (inputs in [-2, 2] or [0.5, 2], so no factor exceeds ~8),
// each multiplication or division adding one u; the only cancellations (1 - y^2 in tanh, 1 - y
// in sigmoid) are of O(1) quantities, which costs O(u) absolute error times |g|. Hence a
// norm-wise bound  max|d16 - d32| <= k u (max|d32| + S max|g|) + atol, where k counts the
// roundings of the longest chain (stated per case) and S the terms summed per element (for
// broadcast reductions and GEMMs).
void check_backward(const GradCase& c, Generator& gen) {
  SCOPED_TRACE(c.name);
  std::vector<Variable> probe;
  for (const Tensor& x : c.inputs)
    probe.emplace_back(x);
  const Shape out_shape = c.f(probe).shape();
  const Tensor g = rounded(uniform(out_shape, -1, 1, gen));
  const std::vector<Tensor> d16 = grads(c, kF16, g), d32 = grads(c, kF32, g);
  const double gmax = max(abs(g)).item<double>();
  for (std::size_t i = 0; i < d32.size(); ++i) {
    const double ref_max = max(abs(d32[i])).item<double>();
    const double err = max(abs(sub(d16[i].to(kF32), d32[i]))).item<double>();
    const double bound = c.k * kU * (ref_max + c.s * gmax) + kAtol;
    EXPECT_LE(err, bound) << "input " << i << ": max error " << err << ", bound " << bound;
  }
}

// The backward cases: arithmetic, GEMMs and reductions, then shape ops, joining and selection.
std::vector<GradCase> arithmetic_grad_cases(const Inputs& in) {
  const Tensor a = in.a, b = in.b, pos = in.pos, row = in.row;
  return {
      // gradient = g (or -g), summed over the 4 broadcast rows for `row`: one rounding + sum
      {"add", [](auto& v) { return add(v[0], v[1]); }, {a, row}, 2, 4},
      {"sub", [](auto& v) { return sub(v[0], v[1]); }, {a, row}, 2, 4},
      // g * b, g * a: one rounding
      {"mul", [](auto& v) { return mul(v[0], v[1]); }, {a, b}, 1},
      // g / b; -g a / b^2: up to four roundings
      {"div", [](auto& v) { return div(v[0], v[1]); }, {a, pos}, 4},
      {"scalar ops",
       [](auto& v) { return rsub(0.5, div(mul(sub(add(v[0], 1.0), 0.25), 3.0), 2.0)); },
       {a},
       4},
      {"rdiv", [](auto& v) { return rdiv(1.5, v[0]); }, {pos}, 4},
      {"neg", [](auto& v) { return neg(v[0]); }, {a}, 0},
      {"exp", [](auto& v) { return exp(v[0]); }, {a}, 2},          // rounded y, then g * y
      {"log", [](auto& v) { return log(v[0]); }, {pos}, 1},        // g / x
      {"tanh", [](auto& v) { return tanh(v[0]); }, {a}, 5},        // y, y^2, 1 - y^2, g * ...
      {"sigmoid", [](auto& v) { return sigmoid(v[0]); }, {a}, 5},  // y, 1 - y, y (1-y), g * ...
      {"relu", [](auto& v) { return relu(v[0]); }, {a}, 0},
      {"leaky_relu", [](auto& v) { return leaky_relu(v[0], 0.1); }, {a}, 1},
      {"sqrt", [](auto& v) { return sqrt(v[0]); }, {pos}, 3},     // y, 2y, g / 2y
      {"pow", [](auto& v) { return pow(v[0], 2.5); }, {pos}, 4},  // x^1.5, * 2.5, * g
      // 8-term dot products (g @ b^T and a^T @ g), each rounded once
      {"matmul", [](auto& v) { return matmul(v[0], transpose(v[1], 0, 1)); }, {a, b}, 2, 8 * 2},
      {"sum", [](auto& v) { return sum(v[0]); }, {a}, 0},
      {"sum dim", [](auto& v) { return sum(v[0], 1, true); }, {a}, 0},
      {"mean", [](auto& v) { return mean(v[0]); }, {a}, 1},
      {"mean dim", [](auto& v) { return mean(v[0], 0); }, {a}, 1},
      {"max", [](auto& v) { return max(v[0]); }, {a}, 0},
      {"max dim", [](auto& v) { return max(v[0], 1); }, {a}, 0},
  };
}

std::vector<GradCase> shape_and_selection_grad_cases(const Inputs& in) {
  const Tensor a = in.a, b = in.b, row = in.row, mask = in.mask, idx_rep = in.idx_rep;
  return {
      {"reshape",
       [](auto& v) {
         return reshape(v[0], {8, 4});
       },
       {a},
       0},
      {"transpose", [](auto& v) { return transpose(v[0], 0, 1); }, {a}, 0},
      {"permute",
       [](auto& v) {
         return permute(reshape(v[0], {2, 2, 8}), {2, 0, 1});
       },
       {a},
       0},
      {"narrow", [](auto& v) { return narrow(v[0], 1, 2, 3); }, {a}, 0},
      {"select", [](auto& v) { return select(v[0], 0, 2); }, {a}, 0},
      {"unsqueeze, squeeze", [](auto& v) { return squeeze(unsqueeze(v[0], 1), 1); }, {a}, 0},
      {"expand",
       [](auto& v) {
         return expand(v[0], {3, 8});
       },
       {row},
       1,
       3},  // sum of 3
      {"concat",
       [](auto& v) {
         return concat({v[0], v[1]}, 1);
       },
       {a, b},
       0},
      {"stack",
       [](auto& v) {
         return stack({v[0], v[1]}, 0);
       },
       {a, b},
       0},
      {"split", [](auto& v) { return split(v[0], 3, 1)[1]; }, {a}, 0},
      {"chunk", [](auto& v) { return chunk(v[0], 2, 0)[0]; }, {a}, 0},
      // scatter-add of g rows into repeated indices: up to 2 roundings
      {"index_select", [idx_rep](auto& v) { return index_select(v[0], 0, idx_rep); }, {a}, 2, 2},
      {"where", [mask](auto& v) { return where(mask, v[0], v[1]); }, {a, b}, 0},
      {"masked_fill", [mask](auto& v) { return masked_fill(v[0], mask, 0.5); }, {a}, 0},
      // backward casts the float32 gradient to the input's dtype: one rounding
      {"cast", [](auto& v) { return cast(v[0], kF32); }, {a}, 1},
  };
}

TEST(AmpOpsFp16, EveryDifferentiableOpMatchesFloat32Backward) {
  const Inputs in = make_inputs();
  Generator gen(99);
  for (const std::vector<GradCase>& group :
       {arithmetic_grad_cases(in), shape_and_selection_grad_cases(in)}) {
    for (const GradCase& c : group)
      check_backward(c, gen);
  }
}

}  // namespace
}  // namespace loom
