// tensor/adam.cpp: adam_step_ (tensor/adam.h): the argument checks, then one fused call per
// (device, dtype) group of parameters.
#include "tensor/adam.h"

#include <set>

#include "tensor/backend.h"
#include "tensor/fused_kernels.h"

namespace loom {
namespace {

void check_param(const AdamTensors& a, std::size_t i) {
  LOOM_CHECK(a.param.defined() && a.grad.defined() && a.exp_avg.defined() &&
                 a.exp_avg_sq.defined() && a.step.defined(),
             "adam_step_: parameter ", i, " lacks a param, grad, exp_avg, exp_avg_sq or step");
  LOOM_CHECK(adam_step_supports(a.param, a.grad), "adam_step_: parameter ", i, " (",
             dtype_name(a.param.dtype()), " ", shape_str(a.param.shape()),
             ") must be float32 or float64 and dense, with a gradient of its dtype, shape and ",
             "device; got ", dtype_name(a.grad.dtype()), " ", shape_str(a.grad.shape()), " on ",
             a.grad.device().str());
  LOOM_CHECK(a.grad.is_contiguous(), "adam_step_: parameter ", i,
             "'s gradient must be dense (contiguous())");
  for (const Tensor* t : {&a.exp_avg, &a.exp_avg_sq}) {
    LOOM_CHECK(t->shape() == a.param.shape() && t->dtype() == a.param.dtype() &&
                   t->device() == a.param.device() && t->is_contiguous(),
               "adam_step_: parameter ", i, "'s moments must be dense copies of its shape, dtype ",
               "and device");
  }
  LOOM_CHECK(
      a.step.dtype() == DType::Int64 && a.step.numel() == 1 && a.step.device() == a.param.device(),
      "adam_step_: parameter ", i, "'s step must be one Int64 on ", a.param.device().str());
}

}  // namespace

bool adam_step_supports(const Tensor& param, const Tensor& grad) {
  return (param.dtype() == DType::Float32 || param.dtype() == DType::Float64) &&
         grad.dtype() == param.dtype() && grad.device() == param.device() &&
         grad.shape() == param.shape() && param.is_contiguous();
}

void adam_step_(const std::vector<AdamTensors>& params, const AdamHyper& hyper,
                const Tensor& found_inf) {
  struct Group {
    Device device;
    DType dtype;
    std::vector<AdamParam> table;
  };
  std::vector<Group> groups;
  std::set<const void*> seen;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const AdamTensors& a = params[i];
    check_param(a, i);
    // An empty parameter still counts its step (as PyTorch's loop over parameters does).
    LOOM_CHECK(a.param.numel() == 0 || seen.insert(a.param.raw_data()).second,
               "adam_step_: parameter ", i, " is the same tensor as an earlier one (list it once)");
    auto it = groups.begin();
    while (it != groups.end() && !(it->device == a.param.device() && it->dtype == a.param.dtype()))
      ++it;
    if (it == groups.end())
      it = groups.insert(groups.end(), Group{a.param.device(), a.param.dtype(), {}});
    it->table.push_back({a.param.raw_data(), a.grad.raw_data(), a.exp_avg.raw_data(),
                         a.exp_avg_sq.raw_data(), static_cast<int64_t*>(a.step.raw_data()),
                         a.param.numel()});
  }
  const float* flag = nullptr;
  if (found_inf.defined()) {
    LOOM_CHECK(found_inf.dtype() == DType::Float32 && found_inf.numel() == 1,
               "adam_step_: found_inf must be one float32, got ", dtype_name(found_inf.dtype()),
               " ", shape_str(found_inf.shape()));
    for (const Group& g : groups)
      LOOM_CHECK(g.device == found_inf.device(), "adam_step_: found_inf is on ",
                 found_inf.device().str(), ", parameters on ", g.device.str());
    flag = static_cast<const float*>(found_inf.raw_data());
  }
  for (const Group& g : groups)
    fused_kernels_for(g.device, "adam_step_")
        .adam_step(g.table.data(), static_cast<int>(g.table.size()), g.dtype, hyper, flag);
}

}  // namespace loom
