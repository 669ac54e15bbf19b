// nn/module.h: loom::nn::Module, the base class of every layer (libtorch's shape).
//
// A Module owns named parameters (leaf Variables that require grad) and named submodules.
// Names compose with dots, exactly as PyTorch's state_dict names them: a Module that registers
// an LSTM as "lstm", whose own parameter is "weight_ih_l0", exposes "lstm.weight_ih_l0". Order
// is registration order (parameters of a module first, then its submodules, depth first), which
// is also PyTorch's order, so optimizers and checkpoints see parameters in the same order.
//
//   struct Net : Module {
//     std::shared_ptr<Linear> fc;
//     Net() : Module("Net") { fc = register_module("fc", std::make_shared<Linear>(LinearOptions(4,
//     1))); } Variable forward(const Variable& x) override { return fc->forward(x); }
//   };
//
// Leaves out: buffers (non-parameter state such as BatchNorm's running mean; no loom layer has
// any yet), hooks, and replacing a registered module.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "tensor/tensor.h"

namespace loom::nn {

// (name, tensor) pairs in registration order: what state_dict() returns and load_state_dict()
// takes. The tensors of state_dict() share storage with the parameters (no copy).
using StateDict = std::vector<std::pair<std::string, Tensor>>;

// Looks `name` up in a StateDict (nullptr if absent).
const Tensor* find_tensor(const StateDict& dict, const std::string& name);

class Module {
 public:
  // `type_name` names the module in messages ("Linear", "Embedding").
  explicit Module(std::string type_name = "Module");
  virtual ~Module() = default;
  Module(const Module&) = delete;  // parameters are handles: a copy would alias them
  Module& operator=(const Module&) = delete;

  const std::string& type_name() const { return type_name_; }

  // The computation, for modules with one input and one output. The base throws (modules with
  // other signatures, such as the LSTM, define their own forward).
  virtual Variable forward(const Variable& input);
  Variable operator()(const Variable& input) { return forward(input); }

  // ---- registration (call from the constructor) --------------------------------------------
  // Stores `param` under `name` (no dots; unique in this module), marks it requires_grad and
  // names it; returns the stored handle.
  Variable& register_parameter(const std::string& name, Variable param, bool requires_grad = true);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // ---- traversal -----------------------------------------------------------------------------
  std::vector<Variable> parameters(bool recurse = true) const;
  // ("embedding.weight", v), ... ; dotted names as in PyTorch.
  std::vector<std::pair<std::string, Variable>> named_parameters(bool recurse = true) const;
  // Direct submodules, in registration order.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  // This module (name "") and every descendant with its dotted path; pointers are non-owning.
  std::vector<std::pair<std::string, Module*>> named_modules();

  // ---- mode and gradients --------------------------------------------------------------------
  // Sets training mode here and in every descendant (Dropout reads it).
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Zeroes every parameter's gradient (keeping the buffers) or, with set_to_none, drops them.
  void zero_grad(bool set_to_none = false);

  // ---- placement: moves/converts every parameter in place (the Variable handles stay the same,
  // so an optimizer built before still holds them; its state is not converted) ------------------
  void to(Device device);
  void to(DType dtype);
  void to(Device device, DType dtype);

  // ---- state ---------------------------------------------------------------------------------
  // Every parameter by dotted name (sharing storage with the parameters).
  StateDict state_dict() const;
  // Copies each tensor of `dict` into the parameter of the same name. With strict, a name of
  // the module missing from `dict` or a name in `dict` the module lacks is an error; a shape or
  // dtype mismatch always is. Errors name the tensor. Nothing is copied unless every check
  // passes.
  void load_state_dict(const StateDict& dict, bool strict = true);

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name, const char* what) const;

  std::string type_name_;
  bool training_ = true;
  std::vector<std::pair<std::string, Variable>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace loom::nn
