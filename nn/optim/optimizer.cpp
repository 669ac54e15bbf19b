// nn/optim/optimizer.cpp: the parts every optimizer shares: naming, zero_grad, state_dict.
#include "nn/optim/optimizer.h"

#include <set>

namespace loom::nn::optim {

Optimizer::Optimizer(NamedParameters params, std::string type_name)
    : params_(std::move(params)), state_(params_.size()), type_name_(std::move(type_name)) {
  std::set<std::string> names;
  for (const auto& [name, p] : params_) {
    LOOM_CHECK(p.defined(), type_name_, ": parameter '", name, "' is undefined");
    LOOM_CHECK(p.is_leaf(), type_name_, ": parameter '", name, "' is not a leaf");
    LOOM_CHECK(names.insert(name).second, type_name_, ": two parameters are named '", name, "'");
  }
}

NamedParameters Optimizer::numbered(const std::vector<Variable>& params) {
  NamedParameters out;
  for (size_t i = 0; i < params.size(); ++i)
    out.emplace_back(std::to_string(i), params[i]);
  return out;
}

Optimizer::Optimizer(const std::vector<Variable>& params, std::string type_name)
    : Optimizer(numbered(params), std::move(type_name)) {}

void Optimizer::zero_grad(bool set_to_none) {
  for (const auto& np : params_) {
    if (set_to_none)
      np.second.set_grad(Tensor());
    else
      np.second.zero_grad();
  }
}

StateDict Optimizer::state_dict() const {
  StateDict out;
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamState& st = state_[i];
    if (!st.started()) continue;
    const std::string& name = params_[i].first;
    out.emplace_back(name + ".step",
                     st.device_step.defined()
                         ? st.device_step
                         : scalar_tensor(static_cast<double>(st.step), DType::Int64));
    for (const auto& [key, t] : state_[i].buffers)
      out.emplace_back(name + "." + key, t);
  }
  return out;
}

void Optimizer::load_state_dict(const StateDict& dict) {
  std::set<std::string> known;
  std::vector<ParamState> loaded(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& [name, p] = params_[i];
    known.insert(name + ".step");
    for (const auto& key : buffer_names())
      known.insert(name + "." + key);
    const Tensor* step = find_tensor(dict, name + ".step");
    if (step == nullptr) continue;  // this parameter had not stepped yet
    LOOM_CHECK(step->numel() == 1, type_name_, "::load_state_dict: '", name,
               ".step' must hold one number, has shape ", shape_str(step->shape()));
    loaded[i].step = step->item<int64_t>();
    if (counts_steps_on_device())
      loaded[i].device_step = step->to(DType::Int64).reshape({}).to(p.device()).clone();
    for (const auto& key : buffer_names()) {
      const std::string full = name + "." + key;
      const Tensor* t = find_tensor(dict, full);
      LOOM_CHECK(t != nullptr, type_name_, "::load_state_dict: missing '", full, "'");
      LOOM_CHECK(t->shape() == p.shape(), type_name_, "::load_state_dict: '", full, "' has shape ",
                 shape_str(t->shape()), " but the parameter is ", shape_str(p.shape()));
      loaded[i].buffers[key] = t->to(p.device()).to(p.dtype()).clone();
    }
  }
  for (const auto& [name, t] : dict)
    LOOM_CHECK(known.count(name) == 1, type_name_, "::load_state_dict: unexpected tensor '", name,
               "' (no parameter or buffer of that name)");
  state_ = std::move(loaded);
}

}  // namespace loom::nn::optim
