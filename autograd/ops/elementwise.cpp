// autograd/ops/elementwise.cpp: add, sub, mul, div (broadcasting) and their scalar forms.
//
// Shapes: a [A...], b [B...] -> y [broadcast(A, B)]. Broadcasting copies an input along the
// broadcast dims, so its gradient is the upstream gradient summed back over those dims:
// sum_to_shape(grad, input shape).
#include "autograd/functions.h"
#include "autograd/node.h"

namespace loom {
namespace {
// What mul and div save: both operands (each gradient needs the other).
struct SavedOperands {
  Tensor a, b;
};
}  // namespace

// y = a + b;  da = g, db = g (each summed to its input's shape). Saves nothing.
Variable add(const Variable& a, const Variable& b) {
  return record("AddBackward", add(a.data(), b.data()), {a, b},
                [sa = a.shape(), sb = b.shape()](const Tensor& g) {
                  return std::vector<Tensor>{sum_to_shape(g, sa), sum_to_shape(g, sb)};
                });
}

// y = a - b;  da = g, db = -g. Saves nothing.
Variable sub(const Variable& a, const Variable& b) {
  return record("SubBackward", sub(a.data(), b.data()), {a, b},
                [sa = a.shape(), sb = b.shape()](const Tensor& g) {
                  return std::vector<Tensor>{sum_to_shape(g, sa), sum_to_shape(neg(g), sb)};
                });
}

// y = a * b;  da = g * b, db = g * a. Saves both inputs: each gradient needs the other.
Variable mul(const Variable& a, const Variable& b) {
  return record(
      "MulBackward", mul(a.data(), b.data()), {a, b}, SavedOperands{a.data(), b.data()},
      [sa = a.shape(), sb = b.shape()](const Tensor& g, const SavedOperands& s) {
        return std::vector<Tensor>{sum_to_shape(mul(g, s.b), sa), sum_to_shape(mul(g, s.a), sb)};
      });
}

// y = a / b;  da = g / b, db = -g * a / b^2. Saves a and b.
Variable div(const Variable& a, const Variable& b) {
  return record("DivBackward", div(a.data(), b.data()), {a, b}, SavedOperands{a.data(), b.data()},
                [sa = a.shape(), sb = b.shape()](const Tensor& g, const SavedOperands& s) {
                  const Tensor ga = div(g, s.b);
                  const Tensor gb = neg(div(mul(ga, s.a), s.b));
                  return std::vector<Tensor>{sum_to_shape(ga, sa), sum_to_shape(gb, sb)};
                });
}

// y = a + s;  da = g.
Variable add(const Variable& a, double s) {
  return record("AddScalarBackward", add(a.data(), s), {a},
                [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Variable sub(const Variable& a, double s) {
  return add(a, -s);
}

// y = s - a;  da = -g.
Variable rsub(double s, const Variable& a) {
  return record("RSubScalarBackward", rsub(s, a.data()), {a},
                [](const Tensor& g) { return std::vector<Tensor>{neg(g)}; });
}

// y = a * s;  da = g * s.
Variable mul(const Variable& a, double s) {
  return record("MulScalarBackward", mul(a.data(), s), {a},
                [s](const Tensor& g) { return std::vector<Tensor>{mul(g, s)}; });
}

// y = a / s;  da = g / s.
Variable div(const Variable& a, double s) {
  return record("DivScalarBackward", div(a.data(), s), {a},
                [s](const Tensor& g) { return std::vector<Tensor>{div(g, s)}; });
}

// y = s / a;  da = -g * y / a. Saves a and y (cheaper than recomputing s / a^2).
Variable rdiv(double s, const Variable& a) {
  Tensor y = rdiv(s, a.data());
  struct Saved {
    Tensor a, y;
  };
  return record("RDivScalarBackward", y, {a}, Saved{a.data(), y},
                [](const Tensor& g, const Saved& sv) {
                  return std::vector<Tensor>{neg(div(mul(g, sv.y), sv.a))};
                });
}

Variable operator+(const Variable& a, const Variable& b) {
  return add(a, b);
}
Variable operator-(const Variable& a, const Variable& b) {
  return sub(a, b);
}
Variable operator*(const Variable& a, const Variable& b) {
  return mul(a, b);
}
Variable operator/(const Variable& a, const Variable& b) {
  return div(a, b);
}
Variable operator+(const Variable& a, double s) {
  return add(a, s);
}
Variable operator+(double s, const Variable& a) {
  return add(a, s);
}
Variable operator-(const Variable& a, double s) {
  return sub(a, s);
}
Variable operator-(double s, const Variable& a) {
  return rsub(s, a);
}
Variable operator*(const Variable& a, double s) {
  return mul(a, s);
}
Variable operator*(double s, const Variable& a) {
  return mul(a, s);
}
Variable operator/(const Variable& a, double s) {
  return div(a, s);
}
Variable operator/(double s, const Variable& a) {
  return rdiv(s, a);
}
Variable operator-(const Variable& a) {
  return neg(a);
}

}  // namespace loom
