// tensor/loss_scale.h: the dynamic loss scaler's two kernels as Tensor ops (mixed precision,
// lab 07). nn/amp/grad_scaler.cpp is the caller; the CPU kernels are tensor/cpu/loss_scale.cpp,
// the CUDA ones cuda/kernels/loss_scale.cu. The scaler's state (scale, counters, found_inf) is in
// one-element tensors on the device, so that neither op needs the host to read a device value.
#pragma once

#include <vector>

#include "tensor/kernels/loss_scale_update.h"  // AmpCounter, AmpScaleUpdate
#include "tensor/tensor.h"

namespace loom {

// Every gradient (dense, floating, on inv_scale's device) *= inv_scale, in place, in one pass per
// dtype; found_inf = 1 if any element was inf or NaN, else left alone (calls OR into it).
// inv_scale and found_inf: one float32 each. The same buffer listed twice is unscaled once.
void unscale_and_check_(const std::vector<Tensor>& grads, const Tensor& inv_scale,
                        const Tensor& found_inf);

// After a step: on overflow (found_inf != 0) scale *= backoff_factor, growth_tracker = 0,
// consecutive and total skips += 1, then the collapse check; otherwise consecutive skips = 0,
// growth_tracker += 1 and, when it reaches growth_interval, scale *= growth_factor (unless that
// overflows float32) and growth_tracker = 0. scale, found_inf: one float32; counters above.
void update_loss_scale_(const Tensor& scale, const Tensor& counters, const Tensor& found_inf,
                        const AmpScaleUpdate& args);

}  // namespace loom
