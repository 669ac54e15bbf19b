// autograd/variable.cpp: Variable's accessors, detach and printing (backward is in engine.cpp).
#include "autograd/variable.h"

#include <ostream>

#include "autograd/node.h"

namespace loom {

Variable::Variable(Tensor data, bool requires_grad) : impl_(std::make_shared<VariableImpl>()) {
  LOOM_CHECK(data.defined(), "Variable: cannot wrap an undefined tensor");
  impl_->data = std::move(data);
  set_requires_grad(requires_grad);
}

Variable Variable::from_node(Tensor data, std::shared_ptr<Node> grad_fn) {
  Variable v;
  v.impl_ = std::make_shared<VariableImpl>();
  v.impl_->data = std::move(data);
  v.impl_->requires_grad = true;
  v.impl_->grad_fn = std::move(grad_fn);
  return v;
}

const VariableImpl& Variable::checked() const {
  LOOM_CHECK(impl_ != nullptr, "Variable: this variable is undefined (default-constructed)");
  return *impl_;
}

const Tensor& Variable::data() const {
  return checked().data;
}

void Variable::set_data(const Tensor& data) const {
  LOOM_CHECK(is_leaf(), "set_data: '", name(), "' is not a leaf (it was computed by ",
             grad_fn() ? "a graph node" : "?", ")");
  LOOM_CHECK(data.defined(), "set_data: undefined tensor");
  impl_->data = data;
}

bool Variable::requires_grad() const {
  return checked().requires_grad;
}

Variable& Variable::set_requires_grad(bool requires_grad) {
  LOOM_CHECK(is_leaf(), "set_requires_grad: only leaves can change requires_grad ('", name(),
             "' was computed by ", impl_->grad_fn ? "an op" : "?", "); use detach()");
  LOOM_CHECK(!requires_grad || is_floating(data().dtype()),
             "set_requires_grad: only floating tensors can require grad, '", name(), "' is ",
             dtype_name(data().dtype()));
  impl_->requires_grad = requires_grad;
  return *this;
}

bool Variable::is_leaf() const {
  return checked().grad_fn == nullptr;
}
const std::shared_ptr<Node>& Variable::grad_fn() const {
  return checked().grad_fn;
}
const Tensor& Variable::grad() const {
  return checked().grad;
}

void Variable::set_grad(const Tensor& grad) const {
  LOOM_CHECK(!grad.defined() || grad.shape() == shape(), "set_grad: gradient shape ",
             shape_str(grad.shape()), " does not match '", name(), "' ", shape_str(shape()));
  impl_->grad = grad;
}

void Variable::zero_grad() const {
  if (checked().grad.defined()) impl_->grad.fill_(0);
}

Variable Variable::detach() const {
  return Variable(data(), false);
}

const std::string& Variable::name() const {
  static const std::string unnamed = "<unnamed>";
  return impl_ && !impl_->name.empty() ? impl_->name : unnamed;
}

Variable& Variable::set_name(std::string name) {
  checked();
  impl_->name = std::move(name);
  return *this;
}

std::ostream& operator<<(std::ostream& out, const Variable& v) {
  if (!v.defined()) return out << "Variable(undefined)";
  out << "Variable(" << v.data();
  if (v.grad_fn())
    out << ", grad_fn=" << v.grad_fn()->name();
  else if (v.requires_grad())
    out << ", requires_grad=true";
  return out << ")";
}

}  // namespace loom
