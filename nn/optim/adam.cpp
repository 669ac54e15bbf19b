// nn/optim/adam.cpp: Adam/AdamW's update (formulas in adam.h): a fused CPU loop and the same
// math in tensor ops for every other case.
#include "nn/optim/adam.h"

#include <cmath>

#include "tensor/ops.h"

namespace loom::nn::optim {

namespace {

// The constants of one step, computed once per parameter in double.
struct AdamStep {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;
  double step_size;  // lr / (1 - beta1^t)
  double bc2_sqrt;   // sqrt(1 - beta2^t)
};

// One pass over n elements: reads p, g, m, v once and writes p, m, v. T is float or double;
// the arithmetic is in T, like PyTorch's CPU kernels for that dtype. The four buffers never
// overlap (restrict), the weight-decay branch is a template parameter and this file is built
// with -fno-math-errno (nn/CMakeLists.txt), so the compiler vectorises the loop, sqrt included.
template <typename T, bool Decoupled>
void adam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n,
               const AdamStep& s) {
  const T b1 = T(s.beta1), b2 = T(s.beta2), one_m_b1 = T(1 - s.beta1), one_m_b2 = T(1 - s.beta2);
  const T wd = T(s.weight_decay), decay = T(1 - s.lr * s.weight_decay);
  const T step_size = T(s.step_size), bc2_sqrt = T(s.bc2_sqrt), eps = T(s.eps);
  for (int64_t i = 0; i < n; ++i) {
    T gi = g[i];
    T pi = p[i];
    if (Decoupled)
      pi *= decay;
    else
      gi += wd * pi;
    const T mi = b1 * m[i] + one_m_b1 * gi;
    const T vi = b2 * v[i] + one_m_b2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - step_size * mi / (std::sqrt(vi) / bc2_sqrt + eps);
  }
}

template <typename T>
void adam_loop(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v,
               const AdamStep& s) {
  if (s.decoupled)
    adam_loop<T, true>(p.data_ptr<T>(), g.data_ptr<T>(), m.data_ptr<T>(), v.data_ptr<T>(),
                       p.numel(), s);
  else
    adam_loop<T, false>(p.data_ptr<T>(), g.data_ptr<T>(), m.data_ptr<T>(), v.data_ptr<T>(),
                        p.numel(), s);
}

// The same update with tensor ops (any device, any float dtype); returns nothing, writes
// p, m, v in place.
void adam_tensors(const Tensor& p, Tensor g, const Tensor& m, const Tensor& v, const AdamStep& s) {
  if (s.decoupled && s.weight_decay != 0) p.copy_(mul(p, 1 - s.lr * s.weight_decay));
  if (!s.decoupled && s.weight_decay != 0) g = g + mul(p, s.weight_decay);
  m.copy_(mul(m, s.beta1) + mul(g, 1 - s.beta1));
  v.copy_(mul(v, s.beta2) + mul(g * g, 1 - s.beta2));
  const Tensor denom = add(div(sqrt(v), s.bc2_sqrt), s.eps);
  p.copy_(p - mul(m / denom, s.step_size));
}

}  // namespace

Adam::Adam(NamedParameters params, const AdamOptions& options)
    : Adam(std::move(params), options, false, "Adam") {}
Adam::Adam(const std::vector<Variable>& params, const AdamOptions& options)
    : Adam(numbered(params), options, false, "Adam") {}
Adam::Adam(NamedParameters params, const AdamOptions& options, bool decoupled, std::string name)
    : Optimizer(std::move(params), std::move(name)), options_(options), decoupled_(decoupled) {
  check_options();
}

AdamW::AdamW(NamedParameters params, const AdamOptions& options)
    : Adam(std::move(params), options, true, "AdamW") {}
AdamW::AdamW(const std::vector<Variable>& params, const AdamOptions& options)
    : Adam(NamedParameters(), options, true, "AdamW") {
  for (size_t i = 0; i < params.size(); ++i)
    params_.emplace_back(std::to_string(i), params[i]);
  state_.resize(params_.size());
}

void Adam::check_options() const {
  const AdamOptions& o = options_;
  LOOM_CHECK(o.lr_ >= 0, type_name(), ": lr must be >= 0, got ", o.lr_);
  LOOM_CHECK(o.beta1_ >= 0 && o.beta1_ < 1 && o.beta2_ >= 0 && o.beta2_ < 1, type_name(),
             ": betas must be in [0, 1), got ", o.beta1_, ", ", o.beta2_);
  LOOM_CHECK(o.eps_ >= 0, type_name(), ": eps must be >= 0, got ", o.eps_);
  LOOM_CHECK(o.weight_decay_ >= 0, type_name(), ": weight_decay must be >= 0, got ",
             o.weight_decay_);
}

void Adam::step() {
  const AdamOptions& o = options_;
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& [name, p] = params_[i];
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    ParamState& st = state_[i];
    if (st.step == 0) {
      st.buffers["exp_avg"] = zeros_like(p.data());
      st.buffers["exp_avg_sq"] = zeros_like(p.data());
    }
    const int64_t t = ++st.step;
    AdamStep s{o.lr_, o.beta1_, o.beta2_, o.eps_, o.weight_decay_, decoupled_, 0, 0};
    s.step_size = o.lr_ / (1 - std::pow(o.beta1_, static_cast<double>(t)));
    s.bc2_sqrt = std::sqrt(1 - std::pow(o.beta2_, static_cast<double>(t)));
    const Tensor& pd = p.data();
    const Tensor& m = st.buffers["exp_avg"];
    const Tensor& v = st.buffers["exp_avg_sq"];
    const bool loop = o.fused_ && pd.device().is_cpu() && pd.is_contiguous() && g.is_contiguous() &&
                      g.dtype() == pd.dtype() &&
                      (pd.dtype() == DType::Float32 || pd.dtype() == DType::Float64);
    if (loop && pd.dtype() == DType::Float32) {
      adam_loop<float>(pd, g, m, v, s);
    } else if (loop) {
      adam_loop<double>(pd, g, m, v, s);
    } else {
      adam_tensors(pd, g, m, v, s);
    }
  }
}

}  // namespace loom::nn::optim
