// autograd/dot.h: to_dot, the graph behind a Variable written in Graphviz's DOT language.
//
// Draws what backward() would walk: one box per recorded Node (its name and output shape), one
// ellipse per leaf that requires grad (its name, or "leaf", and its shape), and an arrow from
// each input to the Node that consumed it, in the order of Node::inputs(). Inputs that need no
// gradient are not part of the graph and are not drawn. Ids are given in the order a walk from
// the root meets them (each Node's inputs numbered together, in order), so the same graph always
// gives the same text; `dot -Tpng` turns it into a picture.
// Leaves out: saved tensors, and the values themselves.
#pragma once

#include <string>

#include "autograd/variable.h"

namespace loom {

// The DOT text of the graph that produced `root` (one ellipse when `root` is a leaf).
std::string to_dot(const Variable& root);

}  // namespace loom
