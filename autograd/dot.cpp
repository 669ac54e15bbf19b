// autograd/dot.cpp: to_dot, a depth-first walk over Node::inputs() that prints DOT.
#include "autograd/dot.h"

#include <sstream>
#include <unordered_map>
#include <utility>
#include <vector>

#include "autograd/node.h"

namespace loom {
namespace {

// DOT ids for the walk: "n<k>" for Nodes and "l<k>" for leaves, k in order of discovery.
class DotWriter {
 public:
  std::string node_id(const Node* node, bool* is_new) { return id_of(node, 'n', is_new); }
  std::string leaf_id(const VariableImpl* leaf, bool* is_new) { return id_of(leaf, 'l', is_new); }
  std::ostringstream out;

 private:
  std::string id_of(const void* key, char prefix, bool* is_new) {
    auto it = ids_.find(key);
    *is_new = it == ids_.end();
    if (*is_new) it = ids_.emplace(key, std::string(1, prefix) + std::to_string(next_++)).first;
    return it->second;
  }
  std::unordered_map<const void*, std::string> ids_;
  int next_ = 0;
};

void write_leaf(DotWriter& w, const std::string& id, const VariableImpl& leaf) {
  const std::string name = leaf.name.empty() ? "leaf" : leaf.name;
  w.out << "  " << id << " [shape=ellipse, style=filled, fillcolor=lightblue, label=\"" << name
        << "\\n"
        << shape_str(leaf.data.shape()) << "\"];\n";
}

void write_node(DotWriter& w, const std::string& id, const Node& node) {
  w.out << "  " << id << " [shape=box, label=\"" << node.name() << "\\n"
        << shape_str(node.output_shape()) << "\"];\n";
}

}  // namespace

std::string to_dot(const Variable& root) {
  LOOM_CHECK(root.defined(), "to_dot: the Variable is undefined");
  DotWriter w;
  w.out << "digraph autograd {\n  rankdir=TB;\n";
  bool is_new = false;
  if (!root.grad_fn()) {  // a leaf: the whole graph is one ellipse
    write_leaf(w, w.leaf_id(root.impl().get(), &is_new), *root.impl());
    w.out << "}\n";
    return w.out.str();
  }
  // Iterative depth-first walk (graphs of long sequences are too deep for recursion).
  std::vector<std::pair<const Node*, std::string>> stack;
  const Node* top = root.grad_fn().get();
  stack.emplace_back(top, w.node_id(top, &is_new));
  write_node(w, stack.back().second, *top);
  std::ostringstream edges;
  while (!stack.empty()) {
    const auto [node, id] = stack.back();
    stack.pop_back();
    // Push inputs in reverse so that the first input is visited (and numbered) first.
    std::vector<std::pair<const Node*, std::string>> children;
    for (const Edge& e : node->inputs()) {
      std::string from;
      if (e.node) {
        from = w.node_id(e.node.get(), &is_new);
        if (is_new) {
          write_node(w, from, *e.node);
          children.emplace_back(e.node.get(), from);
        }
      } else if (e.leaf) {
        from = w.leaf_id(e.leaf.get(), &is_new);
        if (is_new) write_leaf(w, from, *e.leaf);
      } else {
        continue;  // this input needs no gradient: not in the graph
      }
      edges << "  " << from << " -> " << id << ";\n";
    }
    for (auto it = children.rbegin(); it != children.rend(); ++it)
      stack.push_back(*it);
  }
  w.out << edges.str() << "}\n";
  return w.out.str();
}

}  // namespace loom
