// nn/module.cpp: registration, traversal, modes, placement and state_dict of nn::Module.
#include "nn/module.h"

#include <set>

#include "tensor/error.h"

namespace loom::nn {

const Tensor* find_tensor(const StateDict& dict, const std::string& name) {
  for (const auto& [n, t] : dict)
    if (n == name) return &t;
  return nullptr;
}

Module::Module(std::string type_name) : type_name_(std::move(type_name)) {}

Variable Module::forward(const Variable&) {
  LOOM_FAIL(type_name_, "::forward(Variable): this module has no single-input forward");
}

void Module::check_new_name(const std::string& name, const char* what) const {
  LOOM_CHECK(!name.empty(), type_name_, ": ", what, " name must not be empty");
  LOOM_CHECK(name.find('.') == std::string::npos, type_name_, ": ", what, " name '", name,
             "' must not contain '.' (dots join module paths)");
  for (const auto& p : params_)
    LOOM_CHECK(p.first != name, type_name_, ": a parameter named '", name, "' already exists");
  for (const auto& c : children_)
    LOOM_CHECK(c.first != name, type_name_, ": a submodule named '", name, "' already exists");
}

Variable& Module::register_parameter(const std::string& name, Variable param, bool requires_grad) {
  check_new_name(name, "parameter");
  LOOM_CHECK(param.defined(), type_name_, ": register_parameter('", name, "'): undefined Variable");
  LOOM_CHECK(param.is_leaf(), type_name_, ": register_parameter('", name,
             "'): a parameter must be a leaf (detach() it first)");
  param.set_requires_grad(requires_grad);
  if (param.name().empty()) param.set_name(name);
  params_.emplace_back(name, std::move(param));
  return params_.back().second;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name, "submodule");
  LOOM_CHECK(module != nullptr, type_name_, ": register_module('", name, "'): null module");
  children_.emplace_back(name, std::move(module));
}

std::vector<std::pair<std::string, Variable>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Variable>> out(params_.begin(), params_.end());
  if (!recurse) return out;
  for (const auto& [cname, child] : children_)
    for (auto& [pname, p] : child->named_parameters(true))
      out.emplace_back(cname + "." + pname, p);
  return out;
}

std::vector<Variable> Module::parameters(bool recurse) const {
  std::vector<Variable> out;
  for (auto& np : named_parameters(recurse))
    out.push_back(np.second);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return children_;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (const auto& [cname, child] : children_)
    for (auto& [sub, m] : child->named_modules())
      out.emplace_back(sub.empty() ? cname : cname + "." + sub, m);
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_)
    c.second->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (const Variable& p : parameters()) {
    if (set_to_none)
      p.set_grad(Tensor());
    else
      p.zero_grad();
  }
}

void Module::to(Device device) {
  for (const Variable& p : parameters()) {
    if (p.device() == device) continue;
    p.set_data(p.data().to(device));
    p.set_grad(Tensor());  // a gradient on the old device would no longer match
  }
}

void Module::to(DType dtype) {
  for (const Variable& p : parameters()) {
    if (p.dtype() == dtype) continue;
    p.set_data(p.data().to(dtype));
    p.set_grad(Tensor());
  }
}

void Module::to(Device device, DType dtype) {
  to(device);
  to(dtype);
}

StateDict Module::state_dict() const {
  StateDict out;
  for (const auto& [name, p] : named_parameters())
    out.emplace_back(name, p.data());
  return out;
}

void Module::load_state_dict(const StateDict& dict, bool strict) {
  const auto params = named_parameters();
  // Check everything first, so a failed load leaves the module unchanged.
  std::set<std::string> seen;
  for (const auto& [name, t] : dict) {
    LOOM_CHECK(seen.insert(name).second, type_name_, "::load_state_dict: '", name,
               "' appears twice in the state dict");
  }
  for (const auto& [name, p] : params) {
    const Tensor* t = find_tensor(dict, name);
    if (t == nullptr) {
      LOOM_CHECK(!strict, type_name_, "::load_state_dict: missing parameter '", name, "' ",
                 shape_str(p.shape()), " (strict load)");
      continue;
    }
    LOOM_CHECK(t->defined(), type_name_, "::load_state_dict: '", name, "' is undefined");
    LOOM_CHECK(t->shape() == p.shape(), type_name_, "::load_state_dict: '", name, "' has shape ",
               shape_str(t->shape()), " in the state dict but ", shape_str(p.shape()),
               " in the module");
    LOOM_CHECK(t->dtype() == p.dtype(), type_name_, "::load_state_dict: '", name, "' has dtype ",
               dtype_name(t->dtype()), " in the state dict but ", dtype_name(p.dtype()),
               " in the module");
  }
  if (strict) {
    for (const auto& [name, t] : dict) {
      bool known = false;
      for (const auto& np : params)
        known = known || np.first == name;
      LOOM_CHECK(known, type_name_, "::load_state_dict: unexpected tensor '", name, "' ",
                 shape_str(t.shape()), " (the module has no parameter of that name)");
    }
  }
  for (const auto& [name, p] : params) {
    if (const Tensor* t = find_tensor(dict, name)) p.data().copy_(*t);
  }
}

}  // namespace loom::nn
