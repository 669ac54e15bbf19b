// tensor/loss_scale.cpp: the loss scaler's Tensor ops (tensor/loss_scale.h): argument checks,
// then one fused call per gradient dtype.
#include "tensor/loss_scale.h"

#include <map>
#include <set>

#include "tensor/backend.h"
#include "tensor/fused_kernels.h"

namespace loom {
namespace {

void check_scalar(const char* op, const char* what, const Tensor& t, DType dtype, int64_t n,
                  Device device) {
  LOOM_CHECK(t.defined() && t.dtype() == dtype && t.numel() == n && t.is_contiguous() &&
                 t.device() == device,
             op, ": ", what, " must be ", n, " dense ", dtype_name(dtype), " on ", device.str(),
             ", got ",
             t.defined() ? std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()) +
                               " on " + t.device().str()
                         : std::string("an undefined tensor"));
}

}  // namespace

void unscale_and_check_(const std::vector<Tensor>& grads, const Tensor& inv_scale,
                        const Tensor& found_inf) {
  LOOM_CHECK(inv_scale.defined(), "unscale_and_check_: undefined inv_scale");
  const Device dev = inv_scale.device();
  check_scalar("unscale_and_check_", "inv_scale", inv_scale, DType::Float32, 1, dev);
  check_scalar("unscale_and_check_", "found_inf", found_inf, DType::Float32, 1, dev);
  std::map<DType, std::pair<std::vector<void*>, std::vector<int64_t>>> groups;
  std::set<const void*> seen;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    const Tensor& g = grads[i];
    LOOM_CHECK(g.defined() && is_floating(g.dtype()) && g.is_contiguous() && g.device() == dev,
               "unscale_and_check_: gradient ", i, " must be a dense floating tensor on ",
               dev.str());
    if (g.numel() == 0 || !seen.insert(g.raw_data()).second) continue;
    auto& group = groups[g.dtype()];
    group.first.push_back(g.raw_data());
    group.second.push_back(g.numel());
  }
  for (auto& [dtype, group] : groups)
    fused_kernels_for(dev, "unscale_and_check_")
        .amp_unscale_and_check(group.first.data(), group.second.data(),
                               static_cast<int>(group.first.size()), dtype,
                               static_cast<const float*>(inv_scale.raw_data()),
                               static_cast<float*>(found_inf.raw_data()));
}

void update_loss_scale_(const Tensor& scale, const Tensor& counters, const Tensor& found_inf,
                        const AmpScaleUpdate& args) {
  LOOM_CHECK(scale.defined(), "update_loss_scale_: undefined scale");
  const Device dev = scale.device();
  check_scalar("update_loss_scale_", "scale", scale, DType::Float32, 1, dev);
  check_scalar("update_loss_scale_", "counters", counters, DType::Int64, kAmpNumCounters, dev);
  check_scalar("update_loss_scale_", "found_inf", found_inf, DType::Float32, 1, dev);
  fused_kernels_for(dev, "update_loss_scale_")
      .amp_update_scale(static_cast<float*>(scale.raw_data()),
                        static_cast<int64_t*>(counters.raw_data()),
                        static_cast<const float*>(found_inf.raw_data()), args);
}

}  // namespace loom
