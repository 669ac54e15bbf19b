// tests/docs/context/docs/labs/03-layers.h: what the samples of docs/labs/03-layers.md take from
// the tests they were lifted from (tests/nn/module_test.cpp, layers_test.cpp, train_toy_test.cpp,
// serialize_test.cpp).
#pragma once

using namespace loom::nn;

// module_test.cpp
std::vector<std::string> names_of(const Module& m);

// layers_test.cpp
extern loom::Generator gen;
extern const loom::Tensor ids;

// train_toy_test.cpp
struct BagOfEmbeddings : Module {
  Variable forward(const loom::Tensor& ids);
};
extern BagOfEmbeddings model;
extern optim::Adam opt;
extern const loom::Tensor labels;

// serialize_test.cpp
struct Head : Module {
  Head(int64_t V, int64_t E, int64_t F, loom::Generator& gen);
};
extern loom::Generator g3;
extern const std::string path;
