// autograd/variable.h: loom::Variable, a Tensor that remembers how it was computed.
//
// A Variable is a cheap handle (shared_ptr) to: the value (a Tensor), requires_grad, the
// gradient (a Tensor, undefined until the first backward reaches it), and grad_fn, the graph
// Node that produced it (null for leaves). Ops on Variables (autograd/functions.h) compute
// the value with tensor/ops.h and, when grad mode is on and an input requires grad, record a
// Node. backward() walks those Nodes (autograd/engine.cpp).
//
// Convention: backward ACCUMULATES into leaf .grad (grad += dL/dx), so gradients from several
// backward calls add up; call zero_grad() between optimizer steps. Only leaves get .grad.
#pragma once

#include <memory>
#include <string>

#include "tensor/tensor.h"

namespace loom {

class Node;

// The shared state behind Variable handles (also referenced by graph edges to leaves).
struct VariableImpl {
  Tensor data;
  Tensor grad;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;
  std::string name;
};

class Variable {
 public:
  Variable() = default;  // undefined
  // A leaf holding `data` (shared, not copied).
  explicit Variable(Tensor data, bool requires_grad = false);

  // Like Tensor, a Variable is a handle: const methods may change the shared state
  // (grad, data), just not which Variable this handle refers to.
  bool defined() const { return impl_ != nullptr; }
  const Tensor& data() const;
  // Replaces the value of a leaf (e.g. loading a checkpoint); shape may change.
  void set_data(const Tensor& data) const;

  const Shape& shape() const { return data().shape(); }
  int64_t size(int64_t d) const { return data().size(d); }
  int64_t dim() const { return data().dim(); }
  int64_t numel() const { return data().numel(); }
  DType dtype() const { return data().dtype(); }
  Device device() const { return data().device(); }
  template <typename T>
  T item() const {
    return data().item<T>();
  }

  bool requires_grad() const;
  // Only on leaves (a non-leaf's requires_grad follows from its inputs).
  Variable& set_requires_grad(bool requires_grad);
  bool is_leaf() const;
  const std::shared_ptr<Node>& grad_fn() const;

  // dL/d(this), same shape as data(); undefined until a backward pass reaches this leaf.
  const Tensor& grad() const;
  void set_grad(const Tensor& grad) const;  // for optimizers, clipping, all-reduce
  // Fills an existing grad with zeros (keeps its memory); no-op while grad is undefined.
  void zero_grad() const;

  // Backward from this Variable. With `grad` undefined, this must be a one-element tensor
  // and the upstream gradient is 1. Otherwise `grad` has this Variable's shape. Without
  // retain_graph, saved tensors are freed and a second backward through the graph throws.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;

  // A new leaf sharing this value, cut from the graph (requires_grad = false).
  Variable detach() const;

  const std::string& name() const;
  Variable& set_name(std::string name);

  const std::shared_ptr<VariableImpl>& impl() const { return impl_; }
  // For ops: a Variable that is the output of `grad_fn`.
  static Variable from_node(Tensor data, std::shared_ptr<Node> grad_fn);

 private:
  const VariableImpl& checked() const;
  std::shared_ptr<VariableImpl> impl_;
};

std::ostream& operator<<(std::ostream& out, const Variable& v);

}  // namespace loom
