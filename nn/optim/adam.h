// nn/optim/adam.h: Adam and AdamW with torch.optim's exact semantics (1.13, amsgrad off).
//
// For each parameter p with gradient g, at its step t = 1, 2, ...:
//   Adam (L2):     g = g + weight_decay * p
//   AdamW:         p = p * (1 - lr * weight_decay)              (decoupled, before the update)
//   m = beta1 * m + (1 - beta1) * g                             ("exp_avg")
//   v = beta2 * v + (1 - beta2) * g^2                           ("exp_avg_sq")
//   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// eps is added AFTER the square root of the bias-corrected v, as PyTorch does.
// Defaults: lr 1e-3, betas 0.9 / 0.999, eps 1e-8, weight_decay 0 (Adam) or 1e-2 (AdamW).
//
// Two implementations of the same update (tests check they agree):
//   - fused (the default): adam_step_ (tensor/adam.h), ONE backend call per (device, dtype) for
//     all parameters: on the CPU one vectorised loop per parameter over p, g, m, v with no
//     temporaries (tensor/cpu/adam.cpp), on CUDA one multi-tensor kernel launch
//     (cuda/kernels/adam.cu). Used for float32/float64 parameters whose gradient has their dtype.
//   - tensor ops (fused(false), and any parameter the fused path does not take, e.g. float16):
//     the readable version, ~15 small ops per parameter.
// The step count t of each parameter is a 0-d Int64 tensor on its device ("<param>.step" in the
// state dict), advanced by the kernel itself. That is what lets step_if_finite(found_inf) hand
// the loss scaler's overflow flag to the kernel: a skipped step writes nothing and does not
// count, and the host never reads the flag (no synchronisation on a GPU; CUDA-Graph friendly).
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
