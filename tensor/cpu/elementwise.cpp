// tensor/cpu/elementwise.cpp: unary, unary-with-scalar, binary and where kernels.
//
// float32/float64 use Eigen array expressions over Maps of the buffers (vectorised exp,
// tanh, ...). float16 and bfloat16 convert blocks to float, run the float kernel and round on
// store.
// Integer dtypes take a plain loop and support only the ops that make sense for them.
#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/cpu/backend.h"
#include "tensor/cpu/dtype_dispatch.h"

namespace loom::cpu {
namespace {

template <typename T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

constexpr int64_t kNarrowBlock = 2048;  // 16-bit floats are processed in blocks of this many

template <typename T>
void unary_float(UnaryOp op, const T* xp, T* yp, int64_t n) {
  ConstArrayMap<T> x(xp, n);
  ArrayMap<T> y(yp, n);
  switch (op) {
    case UnaryOp::Neg:
      y = -x;
      return;
    case UnaryOp::Exp:
      y = x.exp();
      return;
    case UnaryOp::Log:
      y = x.log();
      return;
    case UnaryOp::Tanh:
      y = x.tanh();
      return;
    case UnaryOp::Sigmoid:
      y = (T(1) + (-x).exp()).inverse();
      return;
    case UnaryOp::Relu:
      // BEGIN LAB 01 TASK 2
      y = x.max(T(0));
      // END LAB 01 TASK 2
      return;
    case UnaryOp::Sqrt:
      y = x.sqrt();
      return;
    case UnaryOp::Abs:
      y = x.abs();
      return;
    case UnaryOp::Sign:
      y = x.sign();
      return;
    case UnaryOp::kCount:  // not an op
      break;
  }
}

template <typename T>
void scalar_float(ScalarOp op, const T* xp, T s, T* yp, int64_t n) {
  ConstArrayMap<T> x(xp, n);
  ArrayMap<T> y(yp, n);
  switch (op) {
    case ScalarOp::Add:
      y = x + s;
      return;
    case ScalarOp::Mul:
      y = x * s;
      return;
    case ScalarOp::Div:
      y = x / s;
      return;
    case ScalarOp::RSub:
      y = s - x;
      return;
    case ScalarOp::RDiv:
      y = s / x;
      return;
    case ScalarOp::Pow:
      y = x.pow(s);
      return;
    case ScalarOp::LeakyRelu:
      y = (x > T(0)).select(x, s * x);
      return;
    case ScalarOp::Max:
      y = x.max(s);
      return;
    case ScalarOp::Min:
      y = x.min(s);
      return;
    case ScalarOp::Elu:  // expm1: exact near 0, where e^x - 1 would cancel
      y = (x > T(0)).select(x, s * x.expm1());
      return;
    case ScalarOp::kCount:  // not an op
      break;
  }
}

template <typename T>
void binary_float(BinaryOp op, const T* ap, const T* bp, void* outp, int64_t n) {
  ConstArrayMap<T> a(ap, n), b(bp, n);
  if (is_comparison(op)) {
    ArrayMap<bool> out(static_cast<bool*>(outp), n);
    switch (op) {
      case BinaryOp::Eq:
        out = a == b;
        return;
      case BinaryOp::Ne:
        out = a != b;
        return;
      case BinaryOp::Lt:
        out = a < b;
        return;
      case BinaryOp::Le:
        out = a <= b;
        return;
      case BinaryOp::Gt:
        out = a > b;
        return;
      case BinaryOp::Ge:
        out = a >= b;
        return;
      default:
        break;
    }
  }
  ArrayMap<T> out(static_cast<T*>(outp), n);
  switch (op) {
    case BinaryOp::Add:
      out = a + b;
      return;
    case BinaryOp::Sub:
      out = a - b;
      return;
    case BinaryOp::Mul:
      out = a * b;
      return;
    case BinaryOp::Div:
      out = a / b;
      return;
    case BinaryOp::Max:
      out = a.max(b);
      return;
    case BinaryOp::Min:
      out = a.min(b);
      return;
    case BinaryOp::Pow:
      out = a.pow(b);
      return;
    default:
      return;
  }
}

// Integers and bool: a plain loop, in T's own arithmetic.
template <typename T>
void unary_int(UnaryOp op, const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    switch (op) {
      case UnaryOp::Neg:
        y[i] = static_cast<T>(-x[i]);
        break;
      case UnaryOp::Abs:
        y[i] = x[i] < 0 ? static_cast<T>(-x[i]) : x[i];
        break;
      case UnaryOp::Sign:
        y[i] = static_cast<T>((x[i] > 0) - (x[i] < 0));
        break;
      case UnaryOp::Relu:
        y[i] = x[i] > 0 ? x[i] : T(0);
        break;
      default:
        LOOM_FAIL(unary_op_name(op), ": not supported for integer dtypes");
    }
  }
}

template <typename T>
void scalar_int(ScalarOp op, const T* x, double s, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(x[i]);
    double r = 0;
    switch (op) {
      case ScalarOp::Add:
        r = v + s;
        break;
      case ScalarOp::Mul:
        r = v * s;
        break;
      case ScalarOp::Div:
        r = std::trunc(v / s);
        break;
      case ScalarOp::RSub:
        r = s - v;
        break;
      case ScalarOp::Max:
        r = std::max(v, s);
        break;
      case ScalarOp::Min:
        r = std::min(v, s);
        break;
      default:
        LOOM_FAIL("scalar op ", static_cast<int>(op), ": not supported for integer dtypes");
    }
    y[i] = static_cast<T>(r);
  }
}

template <typename T>
void binary_int(BinaryOp op, const T* a, const T* b, void* outp, int64_t n) {
  bool* ob = static_cast<bool*>(outp);
  T* ot = static_cast<T*>(outp);
  const bool is_bool = std::is_same_v<T, bool>;
  for (int64_t i = 0; i < n; ++i) {
    switch (op) {
      case BinaryOp::Eq:
        ob[i] = a[i] == b[i];
        break;
      case BinaryOp::Ne:
        ob[i] = a[i] != b[i];
        break;
      case BinaryOp::Lt:
        ob[i] = a[i] < b[i];
        break;
      case BinaryOp::Le:
        ob[i] = a[i] <= b[i];
        break;
      case BinaryOp::Gt:
        ob[i] = a[i] > b[i];
        break;
      case BinaryOp::Ge:
        ob[i] = a[i] >= b[i];
        break;
      case BinaryOp::Max:
        ot[i] = std::max(a[i], b[i]);
        break;
      case BinaryOp::Min:
        ot[i] = std::min(a[i], b[i]);
        break;
      default:
        LOOM_CHECK(!is_bool, binary_op_name(op), ": not supported for bool tensors");
        if constexpr (!std::is_same_v<T, bool>) {
          if (op == BinaryOp::Add)
            ot[i] = a[i] + b[i];
          else if (op == BinaryOp::Sub)
            ot[i] = a[i] - b[i];
          else if (op == BinaryOp::Mul)
            ot[i] = a[i] * b[i];
          else if (op == BinaryOp::Div) {
            LOOM_CHECK(b[i] != 0, "div: integer division by zero");
            ot[i] = a[i] / b[i];
          } else {
            LOOM_FAIL(binary_op_name(op), ": not supported for integer dtypes");
          }
        }
    }
  }
}

// Runs a float kernel on float16 or bfloat16 (H) data: converts blocks of each input to float,
// runs `kernel(float_inputs..., float_out, len)` and rounds the output back (or keeps bool).
template <typename H, typename K>
void narrow_blocks(int64_t n, const H* a, const H* b, void* out, bool out_bool, K&& kernel) {
  std::vector<float> fa(kNarrowBlock), fb(b ? kNarrowBlock : 0), fo(kNarrowBlock);
  for (int64_t start = 0; start < n; start += kNarrowBlock) {
    const int64_t len = std::min(kNarrowBlock, n - start);
    for (int64_t i = 0; i < len; ++i)
      fa[i] = static_cast<float>(a[start + i]);
    if (b) {
      for (int64_t i = 0; i < len; ++i)
        fb[i] = static_cast<float>(b[start + i]);
    }
    if (out_bool) {
      kernel(fa.data(), fb.data(), static_cast<void*>(static_cast<bool*>(out) + start), len);
    } else {
      kernel(fa.data(), fb.data(), static_cast<void*>(fo.data()), len);
      H* o = static_cast<H*>(out) + start;
      for (int64_t i = 0; i < len; ++i)
        o[i] = static_cast<H>(fo[i]);
    }
  }
}

}  // namespace

void CpuBackend::unary(UnaryOp op, const void* x, void* y, DType dtype, int64_t n) {
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsNarrowFloat<T>) {
      narrow_blocks<T>(n, static_cast<const T*>(x), nullptr, y, false,
                       [&](const float* fx, const float*, void* fo, int64_t len) {
                         unary_float<float>(op, fx, static_cast<float*>(fo), len);
                       });
    } else if constexpr (std::is_floating_point_v<T>) {
      unary_float<T>(op, static_cast<const T*>(x), static_cast<T*>(y), n);
    } else if constexpr (std::is_same_v<T, bool>) {
      LOOM_FAIL(unary_op_name(op), ": not supported for bool tensors");
    } else {
      unary_int<T>(op, static_cast<const T*>(x), static_cast<T*>(y), n);
    }
  });
}

void CpuBackend::unary_scalar(ScalarOp op, const void* x, double s, void* y, DType dtype,
                              int64_t n) {
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsNarrowFloat<T>) {
      narrow_blocks<T>(n, static_cast<const T*>(x), nullptr, y, false,
                       [&](const float* fx, const float*, void* fo, int64_t len) {
                         scalar_float<float>(op, fx, static_cast<float>(s), static_cast<float*>(fo),
                                             len);
                       });
    } else if constexpr (std::is_floating_point_v<T>) {
      scalar_float<T>(op, static_cast<const T*>(x), static_cast<T>(s), static_cast<T*>(y), n);
    } else if constexpr (std::is_same_v<T, bool>) {
      LOOM_FAIL("scalar arithmetic is not supported for bool tensors");
    } else {
      scalar_int<T>(op, static_cast<const T*>(x), s, static_cast<T*>(y), n);
    }
  });
}

void CpuBackend::binary(BinaryOp op, const void* a, const void* b, void* out, DType dtype,
                        int64_t n) {
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsNarrowFloat<T>) {
      narrow_blocks<T>(n, static_cast<const T*>(a), static_cast<const T*>(b), out,
                       is_comparison(op),
                       [&](const float* fa, const float* fb, void* fo, int64_t len) {
                         binary_float<float>(op, fa, fb, fo, len);
                       });
    } else if constexpr (std::is_floating_point_v<T>) {
      binary_float<T>(op, static_cast<const T*>(a), static_cast<const T*>(b), out, n);
    } else {
      binary_int<T>(op, static_cast<const T*>(a), static_cast<const T*>(b), out, n);
    }
  });
}

// The repeated row meets each row of the full operand where both lie: one kernel call per row
// of `inner` elements (or, for inner == 1, per run of `mid` elements against a buffer filled with
// the one repeated value). Each element goes through the same kernel as in binary, so the bits
// are those of binary on the materialized operand for the exact ops the frontend sends here.
// Runs shorter than a vector, 16-bit floats (converted in blocks per call) and bool are left to
// the frontend's materialized copy.
bool CpuBackend::binary_repeated(BinaryOp op, const void* a, const void* b, void* out, DType dtype,
                                 const RepeatedOperand& r) {
  if (r.inner == 1 ? r.mid < 16 : r.inner < 16) return false;  // runs shorter than a vector
  const std::size_t es = dtype_size(dtype), out_es = is_comparison(op) ? sizeof(bool) : es;
  const char* full = static_cast<const char*>(r.repeated_is_a ? b : a);
  const char* rep = static_cast<const char*>(r.repeated_is_a ? a : b);
  char* o = static_cast<char*>(out);
  bool done = true;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool> || kIsNarrowFloat<T>) {  // left to the copy
      done = false;
    } else {
      // y = a op b on n elements of a row of the full operand and of the repeated one, each put
      // back on its side of the op.
      auto run = [&](const void* full_row, const void* rep_row, void* y, int64_t n) {
        const T* lhs = static_cast<const T*>(r.repeated_is_a ? rep_row : full_row);
        const T* rhs = static_cast<const T*>(r.repeated_is_a ? full_row : rep_row);
        if constexpr (std::is_floating_point_v<T>)
          binary_float<T>(op, lhs, rhs, y, n);
        else
          binary_int<T>(op, lhs, rhs, y, n);
      };
      if (r.inner == 1) {  // [outer, mid] op [outer, 1]: a run of mid elements per outer index
        std::vector<T> same(static_cast<std::size_t>(r.mid));
        for (int64_t i = 0; i < r.outer; ++i) {
          std::fill(same.begin(), same.end(), reinterpret_cast<const T*>(rep)[i]);
          run(full + i * r.mid * es, same.data(), o + i * r.mid * out_es, r.mid);
        }
        return;
      }
      for (int64_t i = 0; i < r.outer; ++i)
        for (int64_t m = 0; m < r.mid; ++m) {
          const int64_t row = (i * r.mid + m) * r.inner;
          run(full + row * es, rep + i * r.inner * es, o + row * out_es, r.inner);
        }
    }
  });
  return done;
}

void CpuBackend::where(const void* cond, const void* a, const void* b, void* out, DType dtype,
                       int64_t n) {
  const bool* c = static_cast<const bool*>(cond);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = static_cast<const T*>(a);
    const T* pb = static_cast<const T*>(b);
    T* po = static_cast<T*>(out);
    for (int64_t i = 0; i < n; ++i)
      po[i] = c[i] ? pa[i] : pb[i];
  });
}

}  // namespace loom::cpu
