// tensor/ops_elementwise.cpp: binary (broadcasting), scalar and unary ops, where, masked_fill.
//
// Broadcasting is done here, in the frontend: each operand is expand()ed to the output shape
// and made contiguous (a no-op for operands that already have it), so the backend's binary
// kernel only ever sees two equal-length dense buffers. One common case skips the copy: a dense
// operand and one that repeats along a run of its dims (a [B, 1, E] dropout mask on [B, T, E]),
// which the backend's binary_repeated reads where it lies.
#include <optional>
#include <string>

#include "tensor/backend.h"
#include "tensor/ops.h"

namespace loom {
namespace {

void check_defined(const Tensor& t, const char* op, const char* arg) {
  LOOM_CHECK(t.defined(), op, ": argument '", arg, "' is an undefined tensor");
}

void check_pair(const Tensor& a, const Tensor& b, const char* op) {
  check_defined(a, op, "a");
  check_defined(b, op, "b");
  LOOM_CHECK(a.device() == b.device(), op, ": tensors on different devices (", a.device().str(),
             " ", shape_str(a.shape()), " and ", b.device().str(), " ", shape_str(b.shape()), ")");
  LOOM_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch (", dtype_name(a.dtype()), " ",
             shape_str(a.shape()), " and ", dtype_name(b.dtype()), " ", shape_str(b.shape()),
             "); cast one with .to(dtype)");
}

// When `full` is dense in the output's shape and `rep`, padded with leading 1s to the same rank,
// differs from it in one run of consecutive dims only (where rep has size 1), the two are
// [outer, mid, inner] and [outer, 1, inner]: rep repeats along the run. Else nothing.
std::optional<RepeatedOperand> repeated_along_one_run(const Shape& full, const Shape& rep) {
  const std::size_t R = full.size();
  if (rep.size() > R) return std::nullopt;
  Shape s(R - rep.size(), 1);
  s.insert(s.end(), rep.begin(), rep.end());
  int64_t first = -1, last = -1;
  for (std::size_t d = 0; d < R; ++d) {
    if (s[d] == full[d]) continue;
    if (first < 0) first = static_cast<int64_t>(d);
    last = static_cast<int64_t>(d);
  }
  if (first < 0) return std::nullopt;  // same shape: nothing repeats
  RepeatedOperand r;
  for (int64_t d = 0; d < static_cast<int64_t>(R); ++d) {
    if (d >= first && d <= last && s[d] != 1) return std::nullopt;  // two runs
    int64_t& part = d < first ? r.outer : d <= last ? r.mid : r.inner;
    part *= full[d];
  }
  return r;
}

// The ops whose every element is exactly rounded, whatever loop computes it (binary_repeated).
bool is_exact(BinaryOp op) {
  return op == BinaryOp::Add || op == BinaryOp::Sub || op == BinaryOp::Mul || op == BinaryOp::Div ||
         is_comparison(op);
}

// out = a op b where one of them repeats along a run of dims of the other (a bias over a batch,
// a dropout mask over time steps), run by the backend without a materialized copy of it when it
// can. False: nothing written, the caller broadcasts by copying.
bool binary_without_copy(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  if (!is_exact(op)) return false;
  const Shape& shape = out.shape();
  const bool a_full = a.shape() == shape && a.is_contiguous();
  const bool b_full = b.shape() == shape && b.is_contiguous();
  if (a_full == b_full) return false;
  std::optional<RepeatedOperand> r = repeated_along_one_run(shape, a_full ? b.shape() : a.shape());
  if (!r) return false;
  r->repeated_is_a = b_full;
  const Tensor ca = a.contiguous(), cb = b.contiguous();  // the repeated one is small
  return backend_for(a.device())
      .binary_repeated(op, ca.raw_data(), cb.raw_data(), out.raw_data(), a.dtype(), *r);
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_op_name(op);
  check_pair(a, b, name);
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out =
      empty(out_shape, TensorOptions(is_comparison(op) ? DType::Bool : a.dtype(), a.device()));
  if (out.numel() == 0 || binary_without_copy(op, a, b, out)) return out;
  const Tensor ca = a.expand(out_shape).contiguous();
  const Tensor cb = b.expand(out_shape).contiguous();
  backend_for(a.device())
      .binary(op, ca.raw_data(), cb.raw_data(), out.raw_data(), a.dtype(), out.numel());
  return out;
}

Tensor scalar_op(ScalarOp op, const Tensor& x, double s, const char* name) {
  check_defined(x, name, "x");
  const Tensor cx = x.contiguous();
  Tensor out = empty_like(cx);
  if (out.numel() > 0) {
    backend_for(x.device())
        .unary_scalar(op, cx.raw_data(), s, out.raw_data(), x.dtype(), out.numel());
  }
  return out;
}

Tensor unary(UnaryOp op, const Tensor& x) {
  const char* name = unary_op_name(op);
  check_defined(x, name, "x");
  const Tensor cx = x.contiguous();
  Tensor out = empty_like(cx);
  if (out.numel() > 0) {
    backend_for(x.device()).unary(op, cx.raw_data(), out.raw_data(), x.dtype(), out.numel());
  }
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Add, a, b);
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Sub, a, b);
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Mul, a, b);
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Div, a, b);
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Max, a, b);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Min, a, b);
}
Tensor pow(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Pow, a, b);
}
Tensor eq(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Eq, a, b);
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Ne, a, b);
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Lt, a, b);
}
Tensor le(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Le, a, b);
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Gt, a, b);
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Ge, a, b);
}
Tensor gt(const Tensor& a, double s) {
  return gt(a, scalar_tensor(s, TensorOptions(a.dtype(), a.device())));
}
Tensor lt(const Tensor& a, double s) {
  return lt(a, scalar_tensor(s, TensorOptions(a.dtype(), a.device())));
}

Tensor add(const Tensor& a, double s) {
  return scalar_op(ScalarOp::Add, a, s, "add");
}
Tensor sub(const Tensor& a, double s) {
  return scalar_op(ScalarOp::Add, a, -s, "sub");
}
Tensor rsub(double s, const Tensor& a) {
  return scalar_op(ScalarOp::RSub, a, s, "rsub");
}
Tensor mul(const Tensor& a, double s) {
  return scalar_op(ScalarOp::Mul, a, s, "mul");
}
Tensor div(const Tensor& a, double s) {
  return scalar_op(ScalarOp::Div, a, s, "div");
}
Tensor rdiv(double s, const Tensor& a) {
  return scalar_op(ScalarOp::RDiv, a, s, "rdiv");
}
Tensor pow(const Tensor& a, double e) {
  return scalar_op(ScalarOp::Pow, a, e, "pow");
}
Tensor clamp(const Tensor& a, double lo, double hi) {
  LOOM_CHECK(lo <= hi, "clamp: lo ", lo, " > hi ", hi);
  return scalar_op(ScalarOp::Min, scalar_op(ScalarOp::Max, a, lo, "clamp"), hi, "clamp");
}

Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}
Tensor operator+(const Tensor& a, double s) {
  return add(a, s);
}
Tensor operator+(double s, const Tensor& a) {
  return add(a, s);
}
Tensor operator-(const Tensor& a, double s) {
  return sub(a, s);
}
Tensor operator-(double s, const Tensor& a) {
  return rsub(s, a);
}
Tensor operator*(const Tensor& a, double s) {
  return mul(a, s);
}
Tensor operator*(double s, const Tensor& a) {
  return mul(a, s);
}
Tensor operator/(const Tensor& a, double s) {
  return div(a, s);
}
Tensor operator/(double s, const Tensor& a) {
  return rdiv(s, a);
}
Tensor operator-(const Tensor& a) {
  return neg(a);
}

Tensor neg(const Tensor& x) {
  return unary(UnaryOp::Neg, x);
}
Tensor exp(const Tensor& x) {
  return unary(UnaryOp::Exp, x);
}
Tensor log(const Tensor& x) {
  return unary(UnaryOp::Log, x);
}
Tensor tanh(const Tensor& x) {
  return unary(UnaryOp::Tanh, x);
}
Tensor sigmoid(const Tensor& x) {
  return unary(UnaryOp::Sigmoid, x);
}
Tensor relu(const Tensor& x) {
  return unary(UnaryOp::Relu, x);
}
Tensor sqrt(const Tensor& x) {
  return unary(UnaryOp::Sqrt, x);
}
Tensor abs(const Tensor& x) {
  return unary(UnaryOp::Abs, x);
}
Tensor sign(const Tensor& x) {
  return unary(UnaryOp::Sign, x);
}
Tensor leaky_relu(const Tensor& x, double slope) {
  return scalar_op(ScalarOp::LeakyRelu, x, slope, "leaky_relu");
}
Tensor elu(const Tensor& x, double alpha) {
  LOOM_CHECK(alpha > 0, "elu: alpha must be > 0, got ", alpha);
  return scalar_op(ScalarOp::Elu, x, alpha, "elu");
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined(cond, "where", "cond");
  check_pair(a, b, "where");
  LOOM_CHECK(cond.dtype() == DType::Bool, "where: cond must be bool, got ",
             dtype_name(cond.dtype()), " ", shape_str(cond.shape()));
  LOOM_CHECK(cond.device() == a.device(), "where: cond on ", cond.device().str(), " but values on ",
             a.device().str());
  const Shape out_shape =
      broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  const Tensor cc = cond.expand(out_shape).contiguous();
  const Tensor ca = a.expand(out_shape).contiguous();
  const Tensor cb = b.expand(out_shape).contiguous();
  Tensor out = empty(out_shape, TensorOptions(a.dtype(), a.device()));
  if (out.numel() > 0) {
    backend_for(a.device())
        .where(cc.raw_data(), ca.raw_data(), cb.raw_data(), out.raw_data(), a.dtype(), out.numel());
  }
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_defined(x, "masked_fill", "x");
  check_defined(mask, "masked_fill", "mask");
  LOOM_CHECK(mask.dtype() == DType::Bool, "masked_fill: mask must be bool, got ",
             dtype_name(mask.dtype()), " ", shape_str(mask.shape()));
  const Shape out_shape = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  LOOM_CHECK(out_shape == x.shape(), "masked_fill: mask ", shape_str(mask.shape()),
             " must broadcast to x ", shape_str(x.shape()));
  return where(mask, scalar_tensor(value, TensorOptions(x.dtype(), x.device())), x);
}

Tensor cast(const Tensor& x, DType dtype) {
  check_defined(x, "cast", "x");
  return x.to(dtype);
}

}  // namespace loom
