// autograd/node.h: one recorded op in the graph, and record(), which every op uses.
//
// A Node has a name ("MulBackward"), one Edge per input of the forward op, and its backward:
//   grads = backward(grad_output)  -> one Tensor per input (undefined: no gradient).
// Edges point at the Node that produced the input, or at the input itself when it is a leaf
// that requires grad, or nowhere (the input needs no gradient).
//
// Saved state is typed: an op declares a small struct of what its backward needs
// (`struct Saved { Tensor y; };`) and record() keeps it beside the backward function, which
// reads `s.y`. It is freed after the Node runs unless backward was asked to retain the graph;
// running the Node again then throws the "freed by the first backward" error. The convention
// is written in autograd/README.md.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace loom {

struct Edge {
  std::shared_ptr<Node> node;          // input produced by this node, or
  std::shared_ptr<VariableImpl> leaf;  // input is this leaf (accumulate into its .grad)
};

// A Node's backward with whatever it saved, behind one virtual call (record() makes these).
struct NodeBackward {
  virtual ~NodeBackward() = default;
  virtual std::vector<Tensor> run(const Tensor& grad_output) const = 0;
};

class Node {
 public:
  // `frees_state`: the backward holds saved tensors, so it is dropped after a run without
  // retain_graph (a backward that saved nothing may run any number of times).
  Node(std::string name, std::vector<Edge> inputs, std::unique_ptr<NodeBackward> backward,
       bool frees_state, Shape output_shape);
  // Frees a chain of input Nodes in a loop, not one stack frame per Node (node.cpp).
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  const std::string& name() const { return name_; }
  const std::vector<Edge>& inputs() const { return inputs_; }
  const Shape& output_shape() const { return output_shape_; }
  // Runs backward; frees the saved state unless retain_graph.
  std::vector<Tensor> apply(const Tensor& grad_output, bool retain_graph);

 private:
  std::string name_;
  std::vector<Edge> inputs_;
  std::unique_ptr<NodeBackward> backward_;  // null once freed
  bool frees_state_;
  Shape output_shape_;
};

// True when an op on `inputs` must record a Node: grad mode is on and an input requires grad.
bool needs_grad(const std::vector<Variable>& inputs);

// Records a Node (when needs_grad(inputs)) and returns `output` as its non-leaf Variable;
// otherwise returns `output` as a plain leaf. The two templates below are what ops call.
Variable record_node(const char* name, Tensor output, const std::vector<Variable>& inputs,
                     std::unique_ptr<NodeBackward> backward, bool frees_state);

namespace detail {
template <typename Saved, typename Fn>
struct SavedBackward final : NodeBackward {
  SavedBackward(Saved s, Fn f) : saved(std::move(s)), fn(std::move(f)) {}
  std::vector<Tensor> run(const Tensor& g) const override { return fn(g, saved); }
  Saved saved;
  Fn fn;
};
template <typename Fn>
struct PlainBackward final : NodeBackward {
  explicit PlainBackward(Fn f) : fn(std::move(f)) {}
  std::vector<Tensor> run(const Tensor& g) const override { return fn(g); }
  Fn fn;
};
}  // namespace detail

// An op whose backward needs saved state: backward(g, const Saved& s) -> one Tensor per input.
// When no Node is recorded, `saved` is dropped at once.
template <typename Saved, typename Fn>
Variable record(const char* name, Tensor output, const std::vector<Variable>& inputs, Saved saved,
                Fn backward) {
  if (!needs_grad(inputs)) return Variable(std::move(output), false);
  return record_node(
      name, std::move(output), inputs,
      std::make_unique<detail::SavedBackward<Saved, Fn>>(std::move(saved), std::move(backward)),
      /*frees_state=*/true);
}

// An op whose backward needs nothing saved: backward(g) -> one Tensor per input.
template <typename Fn>
Variable record(const char* name, Tensor output, const std::vector<Variable>& inputs, Fn backward) {
  if (!needs_grad(inputs)) return Variable(std::move(output), false);
  return record_node(name, std::move(output), inputs,
                     std::make_unique<detail::PlainBackward<Fn>>(std::move(backward)),
                     /*frees_state=*/false);
}

}  // namespace loom
