// nn/lstm_fused_amp.h: the fused LSTM layer under autocast (float16 GEMMs, float32 state); lab 07.
//
// lstm_layer_fused (nn/lstm_fused.cpp) hands over to lstm_layer_fused_amp when
// fused_runs_autocast() says so; the numbers, the rounding points and the output dtype are
// explained in nn/lstm_fused_amp.cpp's header. Not a public header: nn/lstm.h is the LSTM's API,
// and LstmImpl::Fused under an nn::amp::AutocastGuard is how users reach this.
//
// Leaves out: float16 master weights (the composed LSTM takes those), bfloat16.
#pragma once

#include "nn/lstm.h"

namespace loom::nn::detail {

// True when the fused layer must run its mixed-precision path: autocast is on (this thread),
// the weights are float32 (the master weights) and the input is float32 or float16. float64
// never autocasts (gradchecks), so a float64 layer keeps the plain path.
bool fused_runs_autocast(DType x_dtype, DType weight_dtype);

// Same contract as lstm_layer_fused (nn/lstm.h): x [T, B, in], h0, c0 [B, H] in x's dtype,
// p.* float32 with the shapes lstm_layer_fused has already checked. Returns float32 out [T, B, H],
// h_n, c_n [B, H]; gradients come back in each input's dtype (float32 for the weights).
LstmLayerOutput lstm_layer_fused_amp(const Variable& x, const Variable& h0, const Variable& c0,
                                     const LstmParams& p, bool reverse);

}  // namespace loom::nn::detail
