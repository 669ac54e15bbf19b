// autograd/gradcheck.cpp: finite-difference gradient checking (see gradcheck.h).
#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/grad_mode.h"
#include "tensor/ops.h"

namespace loom {
namespace {

// sum(f(vars) * u) without building a graph.
double project(const GradcheckFn& f, const std::vector<Variable>& vars, const Tensor& u) {
  NoGradGuard no_grad;
  return sum(mul(f(vars).data(), u)).item<double>();
}

// Calls fn(multi_index, storage_offset) for every element of t, in row-major order.
template <typename F>
void for_each_element(const Tensor& t, F&& fn) {
  const int64_t n = t.numel();
  Shape idx(t.dim(), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = t.offset();
    for (int64_t d = 0; d < t.dim(); ++d)
      off += idx[d] * t.strides()[d];
    fn(idx, off);
    for (int64_t d = t.dim() - 1; d >= 0; --d) {
      if (++idx[d] < t.size(d)) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& opt) {
  std::vector<Variable> vars;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    LOOM_CHECK(t.defined() && t.dtype() == DType::Float64 && t.device().is_cpu(),
               "gradcheck: input ", i, " must be a float64 CPU tensor");
    for (int64_t d = 0; d < t.dim(); ++d) {
      LOOM_CHECK(t.strides()[d] != 0 || t.size(d) == 1, "gradcheck: input ", i, " of shape ",
                 shape_str(t.shape()), " has a stride-0 (expanded) dim ", d,
                 "; pass .contiguous()");
    }
    vars.emplace_back(t, true);
  }
  // Analytic: one backward with a random upstream gradient.
  const Variable y = f(vars);
  Generator gen(opt.seed);
  const Tensor u = randn(y.shape(), gen, DType::Float64);
  y.backward(u);

  GradcheckResult result;
  for (size_t i = 0; i < vars.size() && result.ok; ++i) {
    const Tensor& x = inputs[i];
    const Tensor g = vars[i].grad().defined() ? vars[i].grad() : zeros_like(x);
    const std::vector<double> analytic = g.to_vector<double>();
    double* base = static_cast<double*>(x.storage()->data());
    int64_t flat = 0;
    for_each_element(x, [&](const Shape& idx, int64_t off) {
      if (!result.ok) return;
      const double orig = base[off];
      base[off] = orig + opt.eps;
      const double fp = project(f, vars, u);
      base[off] = orig - opt.eps;
      const double fm = project(f, vars, u);
      base[off] = orig;
      const double numeric = (fp - fm) / (2 * opt.eps);
      const double actual = analytic[flat++];
      if (!(std::fabs(actual - numeric) <= opt.atol + opt.rtol * std::fabs(numeric))) {
        result.ok = false;
        result.input = static_cast<int>(i);
        result.index = idx;
        result.expected = numeric;
        result.actual = actual;
        std::ostringstream msg;
        msg.precision(10);
        msg << "gradcheck failed for input " << i << " (shape " << shape_str(x.shape())
            << ") at index " << shape_str(idx) << ": expected (numeric) " << numeric
            << ", actual (analytic) " << actual << ", |diff| " << std::fabs(actual - numeric)
            << " > atol " << opt.atol << " + rtol " << opt.rtol << " * |expected|";
        result.message = msg.str();
      }
    });
  }
  return result;
}

}  // namespace loom
