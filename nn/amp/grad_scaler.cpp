// nn/amp/grad_scaler.cpp: GradScaler (see grad_scaler.h). The arithmetic is in two Tensor ops
// (tensor/loss_scale.h: one fused pass over the gradients, one state update); this file checks
// the gradients and keeps the per-iteration order scale -> unscale_ -> step -> update.
#include "nn/amp/grad_scaler.h"

#include <cmath>
#include <iterator>

#include "autograd/functions.h"
#include "tensor/loss_scale.h"
#include "tensor/ops.h"

namespace loom::nn::amp {
namespace {

// The saved counters, by their index in the counters tensor (AmpCounter, tensor/loss_scale.h).
const char* const kCounterNames[] = {"growth_tracker", "consecutive_skips", "skipped_steps"};
static_assert(kAmpGrowthTracker == 0 && kAmpConsecutiveSkips == 1 && kAmpSkippedSteps == 2 &&
                  std::size(kCounterNames) == kAmpCollapsed,
              "kCounterNames follows AmpCounter (every counter before the collapse flag)");

}  // namespace

GradScaler::GradScaler(GradScalerOptions o) : options_(o) {
  LOOM_CHECK(o.init_scale_ > 0 && std::isfinite(o.init_scale_),
             "GradScaler: init_scale must be positive and finite, got ", o.init_scale_);
  LOOM_CHECK(o.growth_factor_ > 1.0, "GradScaler: growth_factor must be > 1, got ",
             o.growth_factor_);
  LOOM_CHECK(o.backoff_factor_ > 0.0 && o.backoff_factor_ < 1.0,
             "GradScaler: backoff_factor must be in (0, 1), got ", o.backoff_factor_);
  LOOM_CHECK(o.growth_interval_ >= 1, "GradScaler: growth_interval must be >= 1, got ",
             o.growth_interval_);
  LOOM_CHECK(o.min_scale_ >= 0.0, "GradScaler: min_scale must be >= 0, got ", o.min_scale_);
  LOOM_CHECK(o.check_interval_ >= 1, "GradScaler: check_interval must be >= 1, got ",
             o.check_interval_);
}

void GradScaler::ensure_state(Device device) {
  if (scale_.defined()) {
    LOOM_CHECK(scale_.device() == device, "GradScaler: its state is on ", scale_.device().str(),
               " but the loss/gradients are on ", device.str(),
               " (one scaler per device; load_state_dict takes the device)");
    return;
  }
  scale_ = full({1}, options_.init_scale_, TensorOptions(DType::Float32, device));
  counters_ = zeros({kAmpNumCounters}, TensorOptions(DType::Int64, device));
  found_inf_ = zeros({1}, TensorOptions(DType::Float32, device));
}

Variable GradScaler::scale(const Variable& loss) {
  LOOM_CHECK(loss.defined(), "GradScaler::scale: undefined loss");
  if (!options_.enabled_) return loss;
  ensure_state(loss.device());
  // A 0-d view broadcasts against a loss of any shape; the scale is a constant (no grad).
  return mul(loss, Variable(scale_.reshape({}).to(loss.dtype())));
}

void GradScaler::unscale_(const optim::NamedParameters& params) {
  std::vector<Variable> vs;
  vs.reserve(params.size());
  for (const auto& [name, v] : params)
    vs.push_back(v);
  unscale_(vs);
}

void GradScaler::unscale_(const std::vector<Variable>& params) {
  if (!options_.enabled_) return;
  LOOM_CHECK(stage_ == Stage::Ready,
             "GradScaler::unscale_: already called since the last update() (unscaling twice "
             "would divide the gradients by the scale twice)");
  std::vector<Tensor> grads;  // dense; a parameter listed twice is unscaled once (by the op)
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Variable& p = params[i];
    if (!p.defined() || !p.grad().defined() || p.grad().numel() == 0) continue;
    Tensor g = p.grad();
    LOOM_CHECK(g.dtype() == DType::Float32 || g.dtype() == DType::Float64,
               "GradScaler::unscale_: parameter ", i, " ('", p.name(), "') has a ",
               dtype_name(g.dtype()),
               " gradient; keep master weights (and so gradients) in float32 and let autocast "
               "make the float16 copies");
    LOOM_CHECK(scale_.defined(),
               "GradScaler::unscale_: gradients found but scale(loss) was never called "
               "(nothing to unscale by)");
    LOOM_CHECK(g.device() == scale_.device(), "GradScaler::unscale_: parameter ", i, " ('",
               p.name(), "') has its gradient on ", g.device().str(), ", the scaler's state is on ",
               scale_.device().str());
    if (!g.is_contiguous()) {  // the kernel takes dense buffers
      g = g.contiguous();
      p.set_grad(g);
    }
    grads.push_back(g);
  }
  stage_ = Stage::Unscaled;
  if (!scale_.defined()) return;  // no scale() and no gradients: nothing to do
  found_inf_.fill_(0.0);
  // 1/scale on the device, no host round trip (exact while the scale is a power of two, as it
  // is from the default init_scale with factors 2 and 0.5).
  unscale_and_check_(grads, rdiv(1.0, scale_), found_inf_);
}

bool GradScaler::step(optim::Optimizer& optimizer) {
  if (options_.enabled_ && stage_ == Stage::Ready) unscale_(optimizer.named_parameters());
  // The sync-free path: an optimizer that reads the flag in its own kernels (Adam's fused step)
  // skips itself on overflow. Only when the state exists: without scale() there is no flag.
  if (options_.enabled_ && stage_ == Stage::Unscaled && found_inf_.defined() &&
      optimizer.step_if_finite(found_inf_)) {
    stage_ = Stage::Stepped;
    return true;
  }
  return step([&optimizer] { optimizer.step(); });
}

bool GradScaler::step(const std::function<void()>& step_fn) {
  if (!options_.enabled_) {
    step_fn();
    return true;
  }
  LOOM_CHECK(stage_ == Stage::Unscaled,
             stage_ == Stage::Ready
                 ? "GradScaler::step: call unscale_(params) first (step(optimizer) does it)"
                 : "GradScaler::step: called twice without update() in between");
  stage_ = Stage::Stepped;
  // The host reads the flag here (see the header: free on the CPU, a sync on a GPU; step(Adam)
  // avoids it by handing the flag to the optimizer's kernel).
  if (found_inf()) return false;
  step_fn();
  return true;
}

void GradScaler::update() {
  if (!options_.enabled_) return;
  LOOM_CHECK(stage_ != Stage::Ready,
             "GradScaler::update: no unscale_()/step() since the last update(); the scale can "
             "only be updated from this iteration's overflow check");
  stage_ = Stage::Ready;
  if (!scale_.defined()) return;
  AmpScaleUpdate args;
  args.growth_factor = options_.growth_factor_;
  args.backoff_factor = options_.backoff_factor_;
  args.growth_interval = options_.growth_interval_;
  args.min_scale = options_.min_scale_;
  args.max_consecutive_skips = options_.max_consecutive_skips_;
  update_loss_scale_(scale_, counters_, found_inf_, args);
  if (++updates_since_check_ >= options_.check_interval_) {
    updates_since_check_ = 0;
    check_collapse();
  }
}

void GradScaler::check_collapse() {
  const std::vector<int64_t> c = counters_.to_vector<int64_t>();
  const int64_t why = c[kAmpCollapsed];
  if (why == 0) return;
  const double s = scale_value();
  const std::string reason = why == 1
                                 ? "the loss scale fell to " + std::to_string(s) +
                                       ", below min_scale " + std::to_string(options_.min_scale_)
                                 : std::to_string(c[kAmpConsecutiveSkips]) +
                                       " steps in a row were skipped (max_consecutive_skips " +
                                       std::to_string(options_.max_consecutive_skips_) +
                                       "), scale now " + std::to_string(s);
  LOOM_FAIL("GradScaler: loss scale collapsed: ", reason, "; ", c[kAmpSkippedSteps],
            " steps skipped in all. The gradients are inf/NaN even at a small scale, so the "
            "overflow is not the scaler's: the loss or the forward pass itself is non-finite "
            "(diverged training: lower the learning rate; log(0) or an fp16 overflow in a "
            "matmul output > 65504: check the inputs). Aborting instead of skipping forever.");
}

double GradScaler::scale_value() const {
  if (!options_.enabled_) return 1.0;
  return scale_.defined() ? scale_.item<double>() : options_.init_scale_;
}

int64_t GradScaler::skipped_steps() const {
  return counters_.defined() ? counters_.to_vector<int64_t>()[kAmpSkippedSteps] : 0;
}

int64_t GradScaler::consecutive_skips() const {
  return counters_.defined() ? counters_.to_vector<int64_t>()[kAmpConsecutiveSkips] : 0;
}

int64_t GradScaler::growth_tracker() const {
  return counters_.defined() ? counters_.to_vector<int64_t>()[kAmpGrowthTracker] : 0;
}

bool GradScaler::found_inf() const {
  return found_inf_.defined() && found_inf_.item<float>() != 0.0f;
}

std::map<std::string, Tensor> GradScaler::state_dict() const {
  std::map<std::string, Tensor> out;
  out["scale"] = full({1}, scale_value(), DType::Float32);
  const std::vector<int64_t> c = counters_.defined() ? counters_.to_vector<int64_t>()
                                                     : std::vector<int64_t>(kAmpNumCounters, 0);
  for (int i = 0; i < 3; ++i)
    out[kCounterNames[i]] = full({1}, static_cast<double>(c[i]), DType::Int64);
  return out;
}

void GradScaler::load_state_dict(const std::map<std::string, Tensor>& state, Device device) {
  auto get = [&](const std::string& key) -> const Tensor& {
    auto it = state.find(key);
    LOOM_CHECK(it != state.end(), "GradScaler::load_state_dict: missing key '", key, "'");
    LOOM_CHECK(it->second.defined() && it->second.numel() == 1, "GradScaler::load_state_dict: '",
               key, "' must hold one element, got shape ",
               it->second.defined() ? shape_str(it->second.shape()) : std::string("undefined"));
    return it->second;
  };
  const double s = get("scale").item<double>();
  LOOM_CHECK(s > 0 && std::isfinite(s),
             "GradScaler::load_state_dict: 'scale' must be positive "
             "and finite, got ",
             s);
  std::vector<int64_t> c(kAmpNumCounters, 0);  // the collapse flag starts cleared
  for (int i = 0; i < 3; ++i)
    c[i] = get(kCounterNames[i]).item<int64_t>();
  scale_ = full({1}, s, TensorOptions(DType::Float32, device));
  counters_ = from_vector<int64_t>(c, {kAmpNumCounters}, device);
  found_inf_ = zeros({1}, TensorOptions(DType::Float32, device));
  stage_ = Stage::Ready;
  updates_since_check_ = 0;
}

}  // namespace loom::nn::amp
