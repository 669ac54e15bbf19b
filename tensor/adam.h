// tensor/adam.h: the Adam/AdamW update of many parameters as one Tensor op (the fused step).
//
// nn/optim/adam.cpp calls this for every parameter it can (float32/float64, dense, a gradient of
// the parameter's dtype and shape); the formulas are in nn/optim/adam.h. Per (device, dtype) the
// op makes ONE call into the backend's fused kernels (tensor/fused_kernels.h): on the CPU one
// vectorised loop per parameter (tensor/cpu/adam.cpp), on CUDA one multi-tensor launch
// (cuda/kernels/adam.cu). The element math is tensor/kernels/adam_update.h.
#pragma once

#include <vector>

#include "tensor/kernels/adam_update.h"  // AdamHyper
#include "tensor/tensor.h"

namespace loom {

// One parameter's tensors. step: its step counter, a one-element Int64 tensor on its device
// (kept there so a captured CUDA Graph bakes in no host value of t).
struct AdamTensors {
  Tensor param, grad, exp_avg, exp_avg_sq, step;
};

// Whether adam_step_ takes this parameter: float32 or float64, dense, and a gradient of its
// dtype, shape and device (which must be dense too when passed: grad.contiguous()).
bool adam_step_supports(const Tensor& param, const Tensor& grad);

// Updates every param, exp_avg, exp_avg_sq in place, with t = step + 1, and stores t back.
// found_inf: undefined, or a one-element float32 tensor on the parameters' device; when nonzero
// (read on the device, no host synchronisation) nothing at all is written, step counts included.
// Throws loom::Error naming the parameter's index on a bad argument (checked whatever found_inf
// says); the same tensor listed twice is refused (one fused call would race with itself).
void adam_step_(const std::vector<AdamTensors>& params, const AdamHyper& hyper,
                const Tensor& found_inf = Tensor());

}  // namespace loom
