// autograd/node.cpp: Node::apply, needs_grad and record_node (what record() calls).
#include "autograd/node.h"

#include "autograd/grad_mode.h"

namespace loom {

Node::Node(std::string name, std::vector<Edge> inputs, std::unique_ptr<NodeBackward> backward,
           bool frees_state, Shape output_shape)
    : name_(std::move(name)),
      inputs_(std::move(inputs)),
      backward_(std::move(backward)),
      frees_state_(frees_state),
      output_shape_(std::move(output_shape)) {}

// Destroying the last handle to a graph destroys each input Node from inside its consumer's
// destructor: one stack frame per Node, which overflows the stack for a chain a few hundred
// thousand Nodes deep (a long unrolled loop; Engine.ADeepChainDoesNotOverflowTheStack). Instead,
// every input Node this one holds the last reference to is moved onto a list, and the loop takes
// each one's inputs the same way before letting it go: the nested destructors find nothing left.
Node::~Node() {
  std::vector<std::shared_ptr<Node>> orphans;
  const auto adopt = [&orphans](std::vector<Edge>& edges) {
    for (Edge& e : edges)
      if (e.node != nullptr && e.node.use_count() == 1) orphans.push_back(std::move(e.node));
  };
  adopt(inputs_);
  while (!orphans.empty()) {
    const std::shared_ptr<Node> last = std::move(orphans.back());
    orphans.pop_back();
    adopt(last->inputs_);
  }  // `last` dies at the end of each pass, its deep inputs already moved out
}

std::vector<Tensor> Node::apply(const Tensor& grad_output, bool retain_graph) {
  LOOM_CHECK(backward_ != nullptr, name_,
             ": trying to backward through the graph a second time, but the saved tensors were "
             "freed by the first backward; pass retain_graph=true to the first backward() if you "
             "need to backward twice");
  std::vector<Tensor> grads = backward_->run(grad_output);
  LOOM_CHECK(grads.size() == inputs_.size(), name_, ": backward returned ", grads.size(),
             " gradients for ", inputs_.size(), " inputs");
  if (!retain_graph && frees_state_) backward_.reset();  // frees the saved tensors
  return grads;
}

bool needs_grad(const std::vector<Variable>& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Variable& v : inputs) {
    if (v.defined() && v.requires_grad()) return true;
  }
  return false;
}

Variable record_node(const char* name, Tensor output, const std::vector<Variable>& inputs,
                     std::unique_ptr<NodeBackward> backward, bool frees_state) {
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
  auto node = std::make_shared<Node>(name, std::move(edges), std::move(backward), frees_state,
                                     std::move(out_shape));
  return Variable::from_node(std::move(output), std::move(node));
}

}  // namespace loom
