// tests/autograd/dot_test.cpp: to_dot writes the graph backward() walks, in DOT.
#include <gtest/gtest.h>

#include "autograd/dot.h"
#include "autograd/functions.h"
#include "tests/common/error_of.h"

using namespace loom;

TEST(ToDot, TinyGraphGivesTheExactText) {
  Variable x(tensor({1, 2}, {2}), true);
  x.set_name("x");
  Variable w(tensor({3, 4}, {2}), true);
  w.set_name("w");
  const Variable c(tensor({5, 6}, {2}));  // needs no gradient: not drawn
  const Variable loss = sum(x * w + c);
  EXPECT_EQ(to_dot(loss),
            "digraph autograd {\n"
            "  rankdir=TB;\n"
            "  n0 [shape=box, label=\"SumBackward\\n[]\"];\n"
            "  n1 [shape=box, label=\"AddBackward\\n[2]\"];\n"
            "  n2 [shape=box, label=\"MulBackward\\n[2]\"];\n"
            "  l3 [shape=ellipse, style=filled, fillcolor=lightblue, label=\"x\\n[2]\"];\n"
            "  l4 [shape=ellipse, style=filled, fillcolor=lightblue, label=\"w\\n[2]\"];\n"
            "  n1 -> n0;\n"
            "  n2 -> n1;\n"
            "  l3 -> n2;\n"
            "  l4 -> n2;\n"
            "}\n");
}

TEST(ToDot, ASharedInputIsOneNodeWithTwoEdges) {
  Variable x(tensor({2}, {1}), true);
  Variable w(tensor({3}, {1}), true);
  w.set_name("w");
  // n0 = (n1 = x * w) * x: x is met first as n0's input (l2), again as n1's, then w (l3).
  const std::string dot = to_dot((x * w) * x);
  EXPECT_NE(dot.find("l2 [shape=ellipse, style=filled, fillcolor=lightblue, label=\"leaf\\n[1]\"]"),
            std::string::npos)
      << dot;
  EXPECT_NE(dot.find("l3 [shape=ellipse, style=filled, fillcolor=lightblue, label=\"w\\n[1]\"]"),
            std::string::npos)
      << dot;  // ids count what is drawn, not how often it is met
  EXPECT_NE(dot.find("l2 -> n0;\n"), std::string::npos) << dot;
  EXPECT_NE(dot.find("l2 -> n1;\n"), std::string::npos) << dot;
}

TEST(ToDot, ALeafIsOneEllipseAndUndefinedIsAnError) {
  Variable x(zeros({2, 3}), true);
  x.set_name("weight");
  EXPECT_EQ(to_dot(x),
            "digraph autograd {\n  rankdir=TB;\n"
            "  l0 [shape=ellipse, style=filled, fillcolor=lightblue, label=\"weight\\n[2, 3]\"];\n"
            "}\n");
  EXPECT_NE(
      loom::test::error_of([] { to_dot(Variable()); }).find("to_dot: the Variable is undefined"),
      std::string::npos);
}
