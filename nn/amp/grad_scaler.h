// nn/amp/grad_scaler.h: GradScaler, dynamic loss scaling for float16 training (lab 07).
//
//   nn::amp::GradScaler scaler;                        // PyTorch's defaults
//   for (...) {
//     opt.zero_grad();
//     Variable loss;
//     { nn::amp::AutocastGuard ac; loss = bce_with_logits(model.forward(x), y); }
//     scaler.scale(loss).backward();
//     scaler.unscale_(params);                         // optional: before gradient clipping
//     scaler.step(opt);                                // skipped if a gradient is inf/NaN
//     scaler.update();                                 // S *= 0.5 or grows; may throw (collapse)
//   }
// Why scaling works, the state machine, and which calls read a device value (a synchronisation
// on a GPU): docs/labs/07-mixed-precision.md, sections 2 and 3.
// Leaves out: several optimizers per scaler (one unscale_/step per iteration), per-device flags
// for model parallelism, unscaling float16 gradients (it throws: see unscale_).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "nn/optim/optimizer.h"

namespace loom::nn::amp {

// Chained setters as in nn/linear.h: GradScalerOptions().init_scale(1024).growth_interval(100).
struct GradScalerOptions {
  GradScalerOptions& init_scale(double v) { return set(init_scale_, v); }
  GradScalerOptions& growth_factor(double v) { return set(growth_factor_, v); }
  GradScalerOptions& backoff_factor(double v) { return set(backoff_factor_, v); }
  GradScalerOptions& growth_interval(int64_t v) { return set(growth_interval_, v); }
  GradScalerOptions& min_scale(double v) { return set(min_scale_, v); }
  GradScalerOptions& max_consecutive_skips(int64_t v) { return set(max_consecutive_skips_, v); }
  GradScalerOptions& check_interval(int64_t v) { return set(check_interval_, v); }
  GradScalerOptions& enabled(bool v) { return set(enabled_, v); }

  double init_scale_ = 65536.0;  // 2^16
  double growth_factor_ = 2.0;
  double backoff_factor_ = 0.5;
  int64_t growth_interval_ = 2000;      // clean steps in a row before the scale grows
  double min_scale_ = 1.0;              // backing off below this aborts training
  int64_t max_consecutive_skips_ = 20;  // this many skipped steps in a row abort (<= 0: never)
  int64_t check_interval_ = 1;          // update()s between host reads of the collapse flag
  bool enabled_ = true;                 // false: every method is a pass-through (fp32 runs)

 private:
  template <typename T>
  GradScalerOptions& set(T& field, T v) {
    field = v;
    return *this;
  }
};

class GradScaler {
 public:
  // Checks the options (factors, interval, scale > 0) and throws loom::Error naming the bad one.
  explicit GradScaler(GradScalerOptions options = {});

  // loss * scale (any shape; the scale broadcasts). The state tensors are created on loss's
  // device at the first call. Disabled: returns loss.
  Variable scale(const Variable& loss);

  // Divides the gradient of every parameter in `params` (those with a defined .grad) by the
  // scale, in place, in one pass, and records whether any was inf/NaN. At most once between
  // two update()s. Gradients must be float32/float64 (master gradients: unscaling in float16
  // would flush the very values scaling protected) and on the scaler's device.
  void unscale_(const std::vector<Variable>& params);
  void unscale_(const optim::NamedParameters& params);

  // Runs the optimizer step unless this iteration's gradients held an inf/NaN. unscale_()s the
  // optimizer's parameters first unless that was done already. If the optimizer accepts the
  // device flag (optimizer.step_if_finite: fused Adam/AdamW), the decision is made on the device
  // and this returns true ("handed over": the step ran or skipped itself, nothing was read
  // back); count skipped steps with skipped_steps(). Otherwise the flag is read on the host and
  // the result is whether the step ran.
  bool step(optim::Optimizer& optimizer);
  // The same for any step function; unscale_(params) must have been called this iteration.
  bool step(const std::function<void()>& step_fn);

  // Updates the scale (update_loss_scale_) and ends the iteration. Throws loom::Error
  // when the scale has collapsed: it fell below min_scale, or max_consecutive_skips steps in a
  // row were skipped (checked every check_interval calls).
  void update();

  // ---- metrics (read the device: a synchronisation on a GPU) -----------------------------------
  double scale_value() const;     // the current scale (1 when disabled)
  int64_t skipped_steps() const;  // total steps skipped since the start (or the loaded state)
  int64_t consecutive_skips() const;
  int64_t growth_tracker() const;  // clean steps since the last growth or back-off
  // Whether the last unscale_ found inf/NaN (false before the first one).
  bool found_inf() const;
  // The flag itself, float32 [1] on the device (what Optimizer::step_if_finite receives).
  const Tensor& found_inf_tensor() const { return found_inf_; }

  const GradScalerOptions& options() const { return options_; }
  bool is_enabled() const { return options_.enabled_; }

  // ---- checkpoints ---------------------------------------------------------------------------
  // "scale" float32 [1]; "growth_tracker", "consecutive_skips", "skipped_steps" int64 [1]; copies
  // on the CPU. The options are code, not state: they are not saved.
  std::map<std::string, Tensor> state_dict() const;
  // Restores a state_dict() (missing keys or wrong shapes throw, naming the key). The state is
  // created on `device`, which should be the parameters' device. Clears a collapse flag.
  void load_state_dict(const std::map<std::string, Tensor>& state, Device device = kCPU);

 private:
  enum class Stage { Ready, Unscaled, Stepped };
  void ensure_state(Device device);
  void check_collapse();

  GradScalerOptions options_;
  Stage stage_ = Stage::Ready;
  int64_t updates_since_check_ = 0;
  Tensor scale_;      // float32 [1], on the device
  Tensor counters_;   // int64 [kAmpNumCounters], on the device
  Tensor found_inf_;  // float32 [1], on the device
};

}  // namespace loom::nn::amp
