// autograd/autocast_state.h: the thread-local autocast switch, its cast cache, and the
// autocast matmul that autograd's matmul() hands over to when the switch is on.
//
// Mixed precision's policy lives in nn/amp/autocast.h (the AutocastGuard users open); the
// state lives here, one layer down, so that the differentiable matmul (autograd/ops/matmul.cpp)
// can consult it without autograd depending on nn/. While autocast is on (float16):
//   matmul(a, b) with float32 operands  ->  casts both to float16, multiplies with float
//   accumulation (CPU: cpu/matmul.cpp; CUDA: GEMM with fp32 compute), returns float32;
//   its backward casts the incoming gradient to float16, runs both GEMMs in float16 and hands
//   float32 gradients to float32 inputs.
// Every other op runs in its inputs' dtype, so reductions, losses, exp/log/softmax, the LSTM
// cell state and the optimizer stay float32. float64 operands are never cast (gradchecks).
//
// The cast cache: a leaf that requires grad (a parameter), or a view of one made by a single
// view op (Linear's transpose(weight)), is cast once per autocast region and the float16 copy
// reused by every later use in that region (an LSTM's W_hh is used at every timestep). The cache
// empties when the outermost region closes, i.e. once per training step if the forward pass is one
// region (the optimizer updates the fp32 master weights in place outside it). Activations are cast
// at each use (they are different tensors every time). Under NoGradGuard a view of a parameter
// is a plain tensor with no graph, so it too is cast at each use (evaluation only). The cache
// assumes weights are not changed in place inside a region; set_data() is detected.
//
// Leaves out: bfloat16 (loom has no such dtype); autocasting anything but matmul.
#pragma once

#include <cstddef>

#include "autograd/variable.h"

namespace loom::autocast {

struct State {
  bool enabled = false;
  DType dtype = DType::Float16;  // the low-precision compute type (only Float16 exists)
  int depth = 0;                 // how many guards are open on this thread
};

// This thread's state (autocast is off on a new thread).
const State& state();
bool is_enabled();
DType compute_dtype();
// Installs `s`, returning the previous state (AutocastGuard's constructor and destructor).
State exchange_state(const State& s);

// True when matmul(a, b) on these dtypes must run in the autocast dtype: autocast is on, no
// operand is float64 or an integer, and at least one is float32.
bool casts_matmul(DType a, DType b);

// `v`'s value in `dtype`. For a parameter or a view of one, while autocast is on, the copy is
// cached (keyed on the parameter, the view's layout and the parameter's buffer, so set_data()
// invalidates it) until clear_cache(); otherwise this is v.data().to(dtype). No gradient flows
// through the result (it is a plain Tensor).
Tensor cast_cached(const Variable& v, DType dtype);
void clear_cache();
std::size_t cache_size();  // entries in this thread's cache (for tests)

// The autocast matmul: a [..., m, k] @ b [..., k, n] computed in compute_dtype(), result in
// float32 (or a's dtype if both are already half). Gradients come back in each input's dtype.
Variable matmul(const Variable& a, const Variable& b);

}  // namespace loom::autocast
