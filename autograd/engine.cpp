// autograd/engine.cpp: Variable::backward, the reverse-mode engine.
//
// 1. Topologically sort the Nodes reachable from the root (iterative DFS, post-order).
// 2. Walk them in reverse order, so a Node runs only after every consumer of its output has
//    added its contribution: pending[node] holds the summed gradient of the node's output.
// 3. Gradients reaching a leaf ACCUMULATE into its .grad (+=); intermediate Variables do not
//    keep gradients.
#include <unordered_map>
#include <unordered_set>

#include "autograd/node.h"
#include "tensor/ops.h"

namespace loom {
namespace {

void accumulate(VariableImpl& leaf, const Tensor& g) {
  LOOM_CHECK(g.shape() == leaf.data.shape(), "backward: gradient of shape ", shape_str(g.shape()),
             " for leaf '", leaf.name, "' of shape ", shape_str(leaf.data.shape()));
  // First gradient: a private dense copy (g may alias another tensor); then add.
  leaf.grad = leaf.grad.defined() ? add(leaf.grad, g) : g.clone();
}

std::vector<Node*> topo_order(Node* root) {
  std::vector<Node*> order;  // post-order: inputs before consumers
  // BEGIN LAB 02 TASK 3 uses(root)
  std::unordered_set<Node*> seen{root};
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs().size()) {
      Node* child = node->inputs()[next++].node.get();
      if (child && seen.insert(child).second) stack.push_back({child, 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  // END LAB 02 TASK 3
  return order;
}

}  // namespace

void Variable::backward(const Tensor& grad_in, bool retain_graph) const {
  const VariableImpl& self = checked();
  LOOM_CHECK(self.requires_grad, "backward: '", name(),
             "' does not require grad and has no grad_fn (did you forget set_requires_grad, ",
             "or compute it under NoGradGuard?)");
  Tensor grad = grad_in;
  if (!grad.defined()) {
    LOOM_CHECK(numel() == 1, "backward: grad can be implicitly created only for scalar outputs; '",
               name(), "' has shape ", shape_str(shape()),
               " (reduce it, e.g. with sum(), or pass an explicit gradient)");
    grad = ones(shape(), TensorOptions(dtype(), device()));
  }
  LOOM_CHECK(grad.shape() == shape(), "backward: gradient shape ", shape_str(grad.shape()),
             " does not match output shape ", shape_str(shape()));
  if (!self.grad_fn) {
    accumulate(*impl_, grad);
    return;
  }
  std::unordered_map<Node*, Tensor> pending{{self.grad_fn.get(), grad}};
  const std::vector<Node*> order = topo_order(self.grad_fn.get());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* node = *it;
    auto found = pending.find(node);
    if (found == pending.end()) continue;  // no gradient flowed here
    const Tensor g = std::move(found->second);
    pending.erase(found);
    const std::vector<Tensor> grads = node->apply(g, retain_graph);
    for (size_t i = 0; i < grads.size(); ++i) {
      const Edge& e = node->inputs()[i];
      if (!grads[i].defined()) continue;
      if (e.node) {
        LOOM_CHECK(grads[i].shape() == e.node->output_shape(), node->name(),
                   ": gradient for input ", i, " has shape ", shape_str(grads[i].shape()),
                   ", expected ", shape_str(e.node->output_shape()));
        auto slot = pending.find(e.node.get());
        if (slot == pending.end()) {
          pending.emplace(e.node.get(), grads[i]);
        } else {
          slot->second = add(slot->second, grads[i]);
        }
      } else if (e.leaf) {
        accumulate(*e.leaf, grads[i]);
      }
    }
  }
}

}  // namespace loom
