// autograd/ops/unary.cpp: neg, exp, log, tanh, sigmoid, relu, leaky_relu, elu, sqrt, pow.
//
// Shapes: x [S...] -> y [S...], g [S...]. Where the derivative is cheapest in terms of the
// output (exp, tanh, sigmoid, sqrt, relu) the output y is saved instead of the input.
#include "autograd/functions.h"
#include "autograd/node.h"

namespace loom {
namespace {
// What a unary op saves: its output y, or its input x (autograd/README.md: typed saved state).
struct SavedOutput {
  Tensor y;
};
struct SavedInput {
  Tensor x;
};
}  // namespace

// y = -x;  dx = -g.
Variable neg(const Variable& x) {
  return record("NegBackward", neg(x.data()), {x},
                [](const Tensor& g) { return std::vector<Tensor>{neg(g)}; });
}

// y = e^x;  dx = g * y. Saves y.
Variable exp(const Variable& x) {
  Tensor y = exp(x.data());
  return record("ExpBackward", y, {x}, SavedOutput{y}, [](const Tensor& g, const SavedOutput& s) {
    return std::vector<Tensor>{mul(g, s.y)};
  });
}

// y = ln x;  dx = g / x. Saves x.
Variable log(const Variable& x) {
  return record(
      "LogBackward", log(x.data()), {x}, SavedInput{x.data()},
      [](const Tensor& g, const SavedInput& s) { return std::vector<Tensor>{div(g, s.x)}; });
}

// y = tanh x;  dx = g * (1 - y^2). Saves y.
Variable tanh(const Variable& x) {
  Tensor y = tanh(x.data());
  return record("TanhBackward", y, {x}, SavedOutput{y}, [](const Tensor& g, const SavedOutput& s) {
    return std::vector<Tensor>{mul(g, rsub(1.0, mul(s.y, s.y)))};
  });
}

// y = 1 / (1 + e^-x);  dx = g * y * (1 - y). Saves y.
Variable sigmoid(const Variable& x) {
  Tensor y = sigmoid(x.data());
  return record("SigmoidBackward", y, {x}, SavedOutput{y},
                [](const Tensor& g, const SavedOutput& s) -> std::vector<Tensor> {
                  // BEGIN LAB 02 TASK 1 uses(g, s)
                  return std::vector<Tensor>{mul(g, mul(s.y, rsub(1.0, s.y)))};
                  // END LAB 02 TASK 1
                });
}

// y = max(x, 0);  dx = g where y > 0, else 0. Saves y (y > 0 exactly where x > 0).
Variable relu(const Variable& x) {
  Tensor y = relu(x.data());
  return record("ReluBackward", y, {x}, SavedOutput{y}, [](const Tensor& g, const SavedOutput& s) {
    return std::vector<Tensor>{mul(g, gt(s.y, 0.0).to(g.dtype()))};
  });
}

// y = x > 0 ? x : slope * x;  dx = g where x > 0, else slope * g. Saves x (y's sign is
// ambiguous for slope <= 0).
Variable leaky_relu(const Variable& x, double slope) {
  return record("LeakyReluBackward", leaky_relu(x.data(), slope), {x}, SavedInput{x.data()},
                [slope](const Tensor& g, const SavedInput& s) {
                  return std::vector<Tensor>{where(gt(s.x, 0.0), g, mul(g, slope))};
                });
}

// y = x > 0 ? x : alpha (e^x - 1);  dx = g where y > 0, else g * (y + alpha). Saves y: with
// alpha > 0, y > 0 exactly where x > 0, and alpha e^x = y + alpha.
Variable elu(const Variable& x, double alpha) {
  Tensor y = elu(x.data(), alpha);
  return record("EluBackward", y, {x}, SavedOutput{y},
                [alpha](const Tensor& g, const SavedOutput& s) {
                  return std::vector<Tensor>{where(gt(s.y, 0.0), g, mul(g, add(s.y, alpha)))};
                });
}

// y = sqrt x;  dx = g / (2 y). Saves y.
Variable sqrt(const Variable& x) {
  Tensor y = sqrt(x.data());
  return record("SqrtBackward", y, {x}, SavedOutput{y}, [](const Tensor& g, const SavedOutput& s) {
    return std::vector<Tensor>{div(g, mul(s.y, 2.0))};
  });
}

// y = x^p;  dx = g * p * x^(p-1). Saves x.
Variable pow(const Variable& x, double p) {
  return record("PowBackward", pow(x.data(), p), {x}, SavedInput{x.data()},
                [p](const Tensor& g, const SavedInput& s) {
                  return std::vector<Tensor>{mul(g, mul(pow(s.x, p - 1.0), p))};
                });
}

}  // namespace loom
