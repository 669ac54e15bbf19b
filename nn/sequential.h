// nn/sequential.h: Sequential, a chain of single-input modules run in order.
//
// Children are named "0", "1", ... as in torch.nn.Sequential, so Sequential(Linear, ReLU,
// Linear) has parameters "0.weight", "0.bias", "2.weight", "2.bias".
//
//   auto net = std::make_shared<Sequential>();
//   net->push_back(std::make_shared<Linear>(LinearOptions(4, 8)));
//   net->push_back(std::make_shared<ReLU>());
//
// Leaves out: named entries (OrderedDict constructor), insert/erase, slicing.
#pragma once

#include <initializer_list>
#include <memory>
#include <vector>

#include "nn/module.h"

namespace loom::nn {

class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules) : Module("Sequential") {
    for (const auto& m : modules)
      push_back(m);
  }
  void push_back(std::shared_ptr<Module> module) {
    modules_.push_back(register_module(std::to_string(modules_.size()), std::move(module)));
  }
  // Runs each module's forward on the previous one's output.
  Variable forward(const Variable& x) override {
    Variable y = x;
    for (const auto& m : modules_)
      y = m->forward(y);
    return y;
  }
  size_t size() const { return modules_.size(); }
  const std::shared_ptr<Module>& operator[](size_t i) const { return modules_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace loom::nn
