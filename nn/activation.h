// nn/activation.h: activations as modules (ReLU, Tanh, Sigmoid, LeakyReLU, ELU), for Sequential.
//
// Each forwards to the autograd op of the same name (autograd/functions.h); they have no
// parameters. Any shape -> the same shape.
//
// Leaves out: GELU, softmax as a module (use the losses' log-softmax), in-place variants.
#pragma once

#include "autograd/functions.h"
#include "nn/module.h"

namespace loom::nn {

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Variable forward(const Variable& x) override { return relu(x); }
};

class Tanh : public Module {
 public:
  Tanh() : Module("Tanh") {}
  Variable forward(const Variable& x) override { return tanh(x); }
};

class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Variable forward(const Variable& x) override { return sigmoid(x); }
};

struct LeakyReLUOptions {
  LeakyReLUOptions() = default;
  LeakyReLUOptions& negative_slope(double s) {
    negative_slope_ = s;
    return *this;
  }
  double negative_slope_ = 0.01;  // PyTorch's default
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(const LeakyReLUOptions& options = {})
      : Module("LeakyReLU"), slope_(options.negative_slope_) {}
  Variable forward(const Variable& x) override { return leaky_relu(x, slope_); }

 private:
  double slope_;
};

struct ELUOptions {
  ELUOptions() = default;
  ELUOptions& alpha(double a) {
    alpha_ = a;
    return *this;
  }
  double alpha_ = 1.0;  // PyTorch's default (Seq2CNN uses 0.25)
};

class ELU : public Module {
 public:
  explicit ELU(const ELUOptions& options = {}) : Module("ELU"), alpha_(options.alpha_) {}
  Variable forward(const Variable& x) override { return elu(x, alpha_); }

 private:
  double alpha_;
};

}  // namespace loom::nn
