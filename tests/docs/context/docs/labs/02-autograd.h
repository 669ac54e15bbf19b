// tests/docs/context/docs/labs/02-autograd.h: what the samples of docs/labs/02-autograd.md take
// from the code they were lifted from: the fixture helper of tests/autograd/test_op_gradients.cpp
// and the training loop's variables in apps/dense_demo/main.cpp.
#pragma once

using Vars = std::vector<loom::Variable>;
loom::Tensor r(const loom::Shape& s);  // randn(s) in float64, the fixture's helper

extern loom::Variable loss;
extern const std::vector<loom::Variable> params;
extern const double lr;
