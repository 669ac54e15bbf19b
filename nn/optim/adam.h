// nn/optim/adam.h: Adam and AdamW with torch.optim's exact semantics (1.13, amsgrad off).
//
// The update, eps after the square root of the bias-corrected v as PyTorch has it, is written out
// in docs/labs/03-layers.md ("Adam, as torch.optim computes it") and coded once per element in
// tensor/kernels/adam_update.h. Defaults: lr 1e-3, betas 0.9 / 0.999, eps 1e-8, weight_decay 0
// (Adam) or 1e-2 (AdamW). Two implementations, which the tests check agree:
//   - fused (the default, float32/float64 parameters whose gradient has their dtype): one
//     adam_step_ call (tensor/adam.h) per (device, dtype) for all parameters;
//   - tensor ops (fused(false), and any parameter the fused path does not take, e.g. float16):
//     the readable version, ~15 small ops per parameter.
// Each parameter's step count t is a 0-d Int64 tensor on its device ("<param>.step" in the state
// dict), advanced by the kernel: so step_if_finite(found_inf) can skip on the loss scaler's
// flag without the host reading it, and a skipped step does not count.
//
// Leaves out: amsgrad, maximize, differentiable, a learning rate on the device (lr is a host
// value passed to each call).
#pragma once

#include "nn/optim/optimizer.h"

namespace loom::nn::optim {

struct AdamOptions {
  AdamOptions(double lr = 1e-3) : lr_(lr) {}  // NOLINT: implicit, Adam(params, 1e-3) reads well
  AdamOptions& betas(double b1, double b2) {
    beta1_ = b1;
    beta2_ = b2;
    return *this;
  }
  AdamOptions& eps(double v) {
    eps_ = v;
    return *this;
  }
  AdamOptions& weight_decay(double v) {
    weight_decay_ = v;
    return *this;
  }
  AdamOptions& fused(bool v) {
    fused_ = v;
    return *this;
  }
  double lr_, beta1_ = 0.9, beta2_ = 0.999, eps_ = 1e-8, weight_decay_ = 0;
  bool fused_ = true;
};

class Adam : public Optimizer {
 public:
  Adam(NamedParameters params, const AdamOptions& options = {});
  Adam(const std::vector<Variable>& params, const AdamOptions& options = {});
  void step() override;
  // The fused path with the device flag (see Optimizer::step_if_finite). false, doing nothing,
  // when fused(false) or when some parameter with a gradient is not fused-eligible.
  bool step_if_finite(const Tensor& found_inf) override;
  double lr() const override { return options_.lr_; }
  void set_lr(double lr) override { options_.lr_ = lr; }
  const AdamOptions& options() const { return options_; }

 protected:
  // AdamW's constructor: decoupled weight decay.
  Adam(NamedParameters params, const AdamOptions& options, bool decoupled, std::string name);
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  bool counts_steps_on_device() const override { return true; }

 private:
  void check_options() const;
  // Whether parameter i's update can go through adam_step_.
  bool fusable(std::size_t i) const;
  // Creates parameter i's exp_avg, exp_avg_sq and step count when it has none.
  void ensure_state(std::size_t i);
  // The update of every parameter with a gradient; found_inf as in adam_step_ (tensor/adam.h).
  void run(const Tensor& found_inf);
  AdamOptions options_;
  bool decoupled_ = false;
};

// AdamW: Adam with decoupled weight decay (default 1e-2, as torch.optim.AdamW).
struct AdamWOptions : AdamOptions {
  AdamWOptions(double lr = 1e-3) : AdamOptions(lr) { weight_decay_ = 1e-2; }  // NOLINT
};

class AdamW : public Adam {
 public:
  AdamW(NamedParameters params, const AdamOptions& options = AdamWOptions());
  AdamW(const std::vector<Variable>& params, const AdamOptions& options = AdamWOptions());
};

}  // namespace loom::nn::optim
