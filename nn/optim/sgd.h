// nn/optim/sgd.h: stochastic gradient descent with momentum, dampening, Nesterov and L2 weight
// decay, exactly as torch.optim.SGD (1.13):
//   d = g + weight_decay * p
//   with momentum:  b = d on the first step, else b = momentum * b + (1 - dampening) * d;
//                   d = d + momentum * b (nesterov) or d = b
//   p = p - lr * d
// State per parameter: "momentum_buffer" (only with momentum != 0).
//
// Leaves out: maximize, foreach/fused variants (SGD is not on the IMDB hot path).
#pragma once

#include "nn/optim/optimizer.h"

namespace loom::nn::optim {

struct SGDOptions {
  SGDOptions(double lr) : lr_(lr) {}  // NOLINT: implicit, SGD(params, 0.1) reads well
  SGDOptions& momentum(double v) {
    momentum_ = v;
    return *this;
  }
  SGDOptions& dampening(double v) {
    dampening_ = v;
    return *this;
  }
  SGDOptions& weight_decay(double v) {
    weight_decay_ = v;
    return *this;
  }
  SGDOptions& nesterov(bool v) {
    nesterov_ = v;
    return *this;
  }
  double lr_, momentum_ = 0, dampening_ = 0, weight_decay_ = 0;
  bool nesterov_ = false;
};

class SGD : public Optimizer {
 public:
  SGD(NamedParameters params, const SGDOptions& options);
  SGD(const std::vector<Variable>& params, const SGDOptions& options);
  void step() override;
  double lr() const override { return options_.lr_; }
  void set_lr(double lr) override { options_.lr_ = lr; }
  const SGDOptions& options() const { return options_; }

 protected:
  std::vector<std::string> buffer_names() const override;

 private:
  void check_options() const;
  SGDOptions options_;
};

}  // namespace loom::nn::optim
