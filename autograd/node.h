// autograd/node.h: one recorded op in the graph, and record(), which every op uses.
//
// A Node has a name ("MulBackward"), one Edge per input of the forward op, the tensors its
// backward needs (SavedTensors, by name) and the backward function itself:
//   grads = backward(grad_output, saved)  -> one Tensor per input (undefined: no gradient).
// Edges point either at the Node that produced the input, or at the input itself when it
// is a leaf that requires grad, or nowhere (the input needs no gradient).
//
// Saved tensors are released after the Node runs unless backward was asked to retain the
// graph; reading them afterwards throws the "freed by the first backward" error.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace loom {

class SavedTensors {
 public:
  SavedTensors() = default;
  SavedTensors(std::vector<std::pair<std::string, Tensor>> items) : items_(std::move(items)) {}
  // Throws if released, or if `name` was not saved.
  const Tensor& get(const std::string& name) const;
  const Tensor& operator[](const std::string& name) const { return get(name); }
  void release();
  bool released() const { return released_; }
  void set_owner(const std::string* owner) { owner_ = owner; }

 private:
  std::vector<std::pair<std::string, Tensor>> items_;
  bool released_ = false;
  const std::string* owner_ = nullptr;  // the Node's name, for error messages
};

using BackwardFn =
    std::function<std::vector<Tensor>(const Tensor& grad_output, const SavedTensors& saved)>;

struct Edge {
  std::shared_ptr<Node> node;          // input produced by this node, or
  std::shared_ptr<VariableImpl> leaf;  // input is this leaf (accumulate into its .grad)
};

class Node {
 public:
  Node(std::string name, std::vector<Edge> inputs, SavedTensors saved, BackwardFn backward,
       Shape output_shape);
  const std::string& name() const { return name_; }
  const std::vector<Edge>& inputs() const { return inputs_; }
  const Shape& output_shape() const { return output_shape_; }
  // Runs backward; releases the saved tensors unless retain_graph.
  std::vector<Tensor> apply(const Tensor& grad_output, bool retain_graph);

 private:
  std::string name_;
  std::vector<Edge> inputs_;
  SavedTensors saved_;
  BackwardFn backward_;
  Shape output_shape_;
};

// True when an op on `inputs` must record a Node: grad mode is on and an input requires grad.
bool needs_grad(const std::vector<Variable>& inputs);

// Wraps a forward result. If needs_grad(inputs), records Node `name` with edges to `inputs`,
// the named saved tensors and `backward`, and returns a non-leaf Variable; otherwise returns
// a plain leaf (the saved tensors are dropped at once).
Variable record(const char* name, Tensor output, const std::vector<Variable>& inputs,
                std::vector<std::pair<std::string, Tensor>> saved, BackwardFn backward);

}  // namespace loom
