// nn/optim/optimizer.h: the Optimizer base class: parameters by name, per-parameter state,
// zero_grad, step, and state_dict for checkpoints (--resume).
//
// Pass module.named_parameters() so a checkpoint names the state after PyTorch's parameter
// names ("embedding.weight.exp_avg"); plain Variables are named "0", "1", .... A parameter whose
// .grad is undefined is skipped and does not count the step, as in PyTorch. SGD counts steps on
// the host; Adam in a 0-d Int64 tensor on the parameter's device, advanced by its kernel.
// step_if_finite(found_inf) is the loss scaler's path without a host read: an optimizer whose
// kernel can read the overflow flag (fused Adam) takes it and skips itself; the others answer
// false and nn/amp/grad_scaler.h reads the flag on the host (docs/labs/07-mixed-precision.md).
//
// Leaves out: several parameter groups with their own settings (one group: lr() / set_lr()
// is what learning-rate schedules need), closures for step(), LBFGS-style optimizers.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "nn/module.h"

namespace loom::nn::optim {

using NamedParameters = std::vector<std::pair<std::string, Variable>>;

class Optimizer {
 public:
  explicit Optimizer(NamedParameters params, std::string type_name);
  Optimizer(const std::vector<Variable>& params, std::string type_name);
  virtual ~Optimizer() = default;

  const std::string& type_name() const { return type_name_; }
  // Zeroes (or, with set_to_none, drops) the gradient of every parameter.
  void zero_grad(bool set_to_none = false);
  // One update of every parameter that has a gradient.
  virtual void step() = 0;
  // One update unless found_inf (float32 [1] on the parameters' device, nonzero = a gradient
  // overflowed) is set, decided on the device: the host never reads the flag, and a skipped
  // step changes nothing (step counts included). Returns true when the step was queued that way;
  // false, having done nothing, when this optimizer cannot (the default, or a configuration that
  // needs the host's decision): the caller then reads the flag and calls step() or not.
  virtual bool step_if_finite(const Tensor& found_inf) {
    (void)found_inf;
    return false;
  }

  virtual double lr() const = 0;
  virtual void set_lr(double lr) = 0;
  const NamedParameters& named_parameters() const { return params_; }
  // Names plain parameters "0", "1", ... (what the vector constructors use).
  static NamedParameters numbered(const std::vector<Variable>& params);

  // State as "<param>.<key>" -> tensor, plus "<param>.step" (0-d Int64) for each parameter that
  // has state. Tensors share storage with the optimizer's buffers (and its device step count).
  StateDict state_dict() const;
  // Restores state written by state_dict() of an optimizer of the same type over parameters
  // with the same names and shapes; an unknown name, a missing or mismatched buffer is an error
  // naming the tensor. Buffers are copied (converted to each parameter's dtype and device).
  void load_state_dict(const StateDict& dict);

 protected:
  struct ParamState {
    int64_t step = 0;    // steps taken, for optimizers that count on the host (SGD)
    Tensor device_step;  // or: 0-d Int64 on the parameter's device (counts_steps_on_device())
    std::map<std::string, Tensor> buffers;  // each with the parameter's shape
    bool started() const { return step > 0 || device_step.defined(); }
  };
  // The buffers a step of this optimizer creates for a parameter (for load_state_dict checks).
  virtual std::vector<std::string> buffer_names() const = 0;
  // Whether steps are counted in ParamState::device_step (load_state_dict then creates it on
  // the parameter's device) rather than in ParamState::step.
  virtual bool counts_steps_on_device() const { return false; }

  NamedParameters params_;
  std::vector<ParamState> state_;  // one per parameter, same order

 private:
  std::string type_name_;
};

}  // namespace loom::nn::optim
