// nn/optim/adam.cpp: Adam/AdamW's update (formulas in adam.h): the fused path, one adam_step_
// (tensor/adam.h) for all parameters it takes, and the same math in tensor ops, the readable
// reference used for everything the fused path does not take.
#include "nn/optim/adam.h"

#include <cmath>
#include <set>

#include "tensor/adam.h"
#include "tensor/ops.h"

namespace loom::nn::optim {

namespace {

// One parameter's step t with tensor ops (any device, any float dtype): ~15 ops, each a pass
// over the parameter with a temporary. Writes p, m, v in place.
void adam_tensors(const Tensor& p, Tensor g, const Tensor& m, const Tensor& v, const AdamHyper& h,
                  int64_t t) {
  const double step_size = h.lr / (1 - std::pow(h.beta1, static_cast<double>(t)));
  const double bc2_sqrt = std::sqrt(1 - std::pow(h.beta2, static_cast<double>(t)));
  if (h.decoupled && h.weight_decay != 0) p.copy_(mul(p, 1 - h.lr * h.weight_decay));
  if (!h.decoupled && h.weight_decay != 0) g = g + mul(p, h.weight_decay);
  m.copy_(mul(m, h.beta1) + mul(g, 1 - h.beta1));
  v.copy_(mul(v, h.beta2) + mul(g * g, 1 - h.beta2));
  const Tensor denom = add(div(sqrt(v), bc2_sqrt), h.eps);  // eps after the sqrt
  p.copy_(p - mul(m / denom, step_size));
}

}  // namespace

Adam::Adam(NamedParameters params, const AdamOptions& options)
    : Adam(std::move(params), options, false, "Adam") {}
Adam::Adam(const std::vector<Variable>& params, const AdamOptions& options)
    : Adam(numbered(params), options, false, "Adam") {}
Adam::Adam(NamedParameters params, const AdamOptions& options, bool decoupled, std::string name)
    : Optimizer(std::move(params), std::move(name)), options_(options), decoupled_(decoupled) {
  check_options();
  // One fused call updates all parameters at once (on a GPU, in parallel): the same tensor twice
  // would be a data race, not two steps.
  std::set<const void*> seen;
  for (const auto& [pname, p] : params_)
    LOOM_CHECK(p.numel() == 0 || seen.insert(p.data().raw_data()).second, type_name(),
               ": parameter '", pname, "' is the same tensor as another parameter (list it once)");
}

AdamW::AdamW(NamedParameters params, const AdamOptions& options)
    : Adam(std::move(params), options, true, "AdamW") {}
AdamW::AdamW(const std::vector<Variable>& params, const AdamOptions& options)
    : Adam(numbered(params), options, true, "AdamW") {}

void Adam::check_options() const {
  const AdamOptions& o = options_;
  LOOM_CHECK(o.lr_ >= 0, type_name(), ": lr must be >= 0, got ", o.lr_);
  LOOM_CHECK(o.beta1_ >= 0 && o.beta1_ < 1 && o.beta2_ >= 0 && o.beta2_ < 1, type_name(),
             ": betas must be in [0, 1), got ", o.beta1_, ", ", o.beta2_);
  LOOM_CHECK(o.eps_ >= 0, type_name(), ": eps must be >= 0, got ", o.eps_);
  LOOM_CHECK(o.weight_decay_ >= 0, type_name(), ": weight_decay must be >= 0, got ",
             o.weight_decay_);
}

bool Adam::fusable(std::size_t i) const {
  const Tensor& p = params_[i].second.data();
  const Tensor& g = params_[i].second.grad();
  return options_.fused_ && adam_step_supports(p, g);  // run() makes a strided gradient dense
}

void Adam::ensure_state(std::size_t i) {
  ParamState& st = state_[i];
  const Tensor& p = params_[i].second.data();
  if (st.buffers.empty()) {
    st.buffers["exp_avg"] = zeros_like(p);
    st.buffers["exp_avg_sq"] = zeros_like(p);
  }
  for (auto& [key, t] : st.buffers)  // the kernels take dense buffers
    if (!t.is_contiguous()) t = t.contiguous();
  // 0 for a fresh parameter (load_state_dict creates it for a loaded one).
  if (!st.device_step.defined())
    st.device_step =
        scalar_tensor(static_cast<double>(st.step), TensorOptions(DType::Int64, p.device()));
}

void Adam::step() {
  run(Tensor());
}

bool Adam::step_if_finite(const Tensor& found_inf) {
  LOOM_CHECK(found_inf.defined() && found_inf.dtype() == DType::Float32 && found_inf.numel() == 1,
             type_name(),
             "::step_if_finite: found_inf must be a float32 tensor of one element, got ",
             found_inf.defined()
                 ? std::string(dtype_name(found_inf.dtype())) + " " + shape_str(found_inf.shape())
                 : std::string("an undefined tensor"));
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].second.grad().defined()) continue;
    if (!fusable(i) || params_[i].second.device() != found_inf.device()) return false;
  }
  run(found_inf);
  return true;
}

void Adam::run(const Tensor& found_inf) {
  const AdamOptions& o = options_;
  AdamHyper h;
  h.lr = o.lr_;
  h.beta1 = o.beta1_;
  h.beta2 = o.beta2_;
  h.eps = o.eps_;
  h.weight_decay = o.weight_decay_;
  h.decoupled = decoupled_;
  std::vector<AdamTensors> fused;  // every parameter the fused step takes: one adam_step_
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Variable& p = params_[i].second;
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    ensure_state(i);
    ParamState& st = state_[i];
    const Tensor& m = st.buffers["exp_avg"];
    const Tensor& v = st.buffers["exp_avg_sq"];
    if (fusable(i)) {
      fused.push_back({p.data(), g.contiguous(), m, v, st.device_step});
      continue;
    }
    // step_if_finite never gets here (it refuses when a parameter is not fusable).
    LOOM_CHECK(!found_inf.defined(), type_name(),
               ": internal: a flagged step on the tensor-op path");
    // Reads t back (a synchronisation on a GPU: this path is the readable one, not the fast one).
    const int64_t t = st.device_step.item<int64_t>() + 1;
    adam_tensors(p.data(), g, m, v, h, t);
    st.device_step.fill_(static_cast<double>(t));
  }
  adam_step_(fused, h, found_inf);
}

}  // namespace loom::nn::optim
