// nn/amp/autocast.h: autocast, the scoped switch that runs GEMMs in float16 or bfloat16 (lab 07).
//
//   {
//     nn::amp::AutocastGuard autocast(DType::Float16);   // this thread, this scope
//     Variable logits = model.forward(x);                // Linear / LSTM GEMMs in fp16
//     loss = bce_with_logits(logits, y);                 // float32
//   }                                                    // fp16 weight copies dropped here
//   scaler.scale(loss).backward();                       // outside the guard, like PyTorch
// With DType::BFloat16 the same code runs bf16 GEMMs and calls loss.backward() unscaled.
// Under the guard, matmul on float32 operands (so Linear and the composed LSTM's gate GEMMs)
// and the fused LSTM's GEMMs (nn/lstm_fused.cpp, weights through cast_once) take 16-bit inputs
// with float32 accumulation; everything else stays float32, because loom never converts dtypes
// implicitly. What runs in which dtype, and why: docs/labs/07-mixed-precision.md, section 4.
// The state lives in autograd/autocast_state.h (so autograd's matmul reads it without nn/).
//
// Leaves out: autocasting ops other than matmul and the LSTMs' GEMMs.
#pragma once

#include <cstddef>

#include "autograd/variable.h"

namespace loom::nn::amp {

// Turns autocast on (or, with enabled = false, off) for this thread until destruction, then
// restores what was there. Guards nest; when the outermost one closes, the cast cache is
// cleared, so the next step casts the (updated) master weights afresh.
// Throws loom::Error for a dtype other than Float16 or BFloat16.
class AutocastGuard {
 public:
  explicit AutocastGuard(DType dtype = DType::Float16, bool enabled = true);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool prev_enabled_;
  DType prev_dtype_;
};

bool autocast_enabled();
DType autocast_dtype();  // the compute dtype an enabled autocast uses (Float16 or BFloat16)

// The `dtype` copy of parameter `p` (or of a view of one, such as transpose(weight)), made once
// per autocast region and reused by every later call in it. For a layer that runs its GEMMs in
// a Tensor op of its own (the fused LSTM, nn/lstm_fused.cpp) and so does not go through
// autograd's matmul. Outside autocast, or for a tensor that is not a parameter, it is a fresh cast
// every time. The copy carries no gradient: a layer using it records its own backward that returns
// float32 gradients.
Tensor cast_once(const Variable& p, DType dtype = DType::Float16);
// Drops every cached copy on this thread (the guard does this when the outermost one closes;
// call it yourself after changing weights in place inside a region).
void clear_cast_cache();
std::size_t cast_cache_size();

}  // namespace loom::nn::amp
