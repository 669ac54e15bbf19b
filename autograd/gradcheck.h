// autograd/gradcheck.h: checks analytic gradients against central finite differences.
//
// gradcheck(f, inputs) runs y = f(inputs as Variables requiring grad), draws a random
// upstream gradient u of y's shape, and compares, for every element x[i] of every input,
//   analytic:  d(sum(y * u))/dx[i]  from y.backward(u)
//   numeric:   (sum(f(x + eps e_i) * u) - sum(f(x - eps e_i) * u)) / (2 eps)
// with |analytic - numeric| <= atol + rtol * |numeric|. A random u checks a full
// vector-Jacobian product, so non-scalar outputs are covered. Inputs must be float64;
// their layout (e.g. a transposed view) is kept, so non-contiguous inputs are exercised.
// Inputs with stride-0 (expanded) dims are rejected: perturbing one stored element would
// move several logical ones.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace loom {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  uint64_t seed = 0;  // for the upstream gradient
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // on failure: input, element index, expected (numeric), actual
  int input = -1;
  Shape index;
  double expected = 0, actual = 0;
  explicit operator bool() const { return ok; }
};

using GradcheckFn = std::function<Variable(const std::vector<Variable>&)>;

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace loom

// For GoogleTest: EXPECT_GRADCHECK(f, {x, y}); prints the failure report.
#define EXPECT_GRADCHECK(f, ...)                                                \
  do {                                                                          \
    const ::loom::GradcheckResult _loom_gc = ::loom::gradcheck(f, __VA_ARGS__); \
    EXPECT_TRUE(_loom_gc.ok) << _loom_gc.message;                               \
  } while (0)
