// autograd/node.cpp: SavedTensors, Node::apply and record().
#include "autograd/node.h"

#include "autograd/grad_mode.h"

namespace loom {

const Tensor& SavedTensors::get(const std::string& name) const {
  const std::string& owner = owner_ ? *owner_ : name;
  LOOM_CHECK(!released_, owner, ": trying to backward through the graph a second time, but the ",
             "saved tensors were freed by the first backward; pass retain_graph=true to the ",
             "first backward() if you need to backward twice");
  for (const auto& item : items_) {
    if (item.first == name) return item.second;
  }
  LOOM_FAIL(owner, ": no saved tensor named '", name, "' (a bug in this op's backward)");
}

void SavedTensors::release() {
  items_.clear();
  released_ = true;
}

Node::Node(std::string name, std::vector<Edge> inputs, SavedTensors saved, BackwardFn backward,
           Shape output_shape)
    : name_(std::move(name)),
      inputs_(std::move(inputs)),
      saved_(std::move(saved)),
      backward_(std::move(backward)),
      output_shape_(std::move(output_shape)) {
  saved_.set_owner(&name_);
}

std::vector<Tensor> Node::apply(const Tensor& grad_output, bool retain_graph) {
  std::vector<Tensor> grads = backward_(grad_output, saved_);
  LOOM_CHECK(grads.size() == inputs_.size(), name_, ": backward returned ", grads.size(),
             " gradients for ", inputs_.size(), " inputs");
  if (!retain_graph) saved_.release();
  return grads;
}

bool needs_grad(const std::vector<Variable>& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Variable& v : inputs) {
    if (v.defined() && v.requires_grad()) return true;
  }
  return false;
}

Variable record(const char* name, Tensor output, const std::vector<Variable>& inputs,
                std::vector<std::pair<std::string, Tensor>> saved, BackwardFn backward) {
  if (!needs_grad(inputs)) return Variable(std::move(output), false);
  std::vector<Edge> edges;
  edges.reserve(inputs.size());
  for (const Variable& v : inputs) {
    Edge e;
    if (v.requires_grad()) {
      if (v.grad_fn()) {
        e.node = v.grad_fn();
      } else {
        e.leaf = v.impl();
      }
    }
    edges.push_back(std::move(e));
  }
  Shape out_shape = output.shape();
  auto node = std::make_shared<Node>(name, std::move(edges), SavedTensors(std::move(saved)),
                                     std::move(backward), std::move(out_shape));
  return Variable::from_node(std::move(output), std::move(node));
}

}  // namespace loom
