// autograd/autocast_state.h: the thread-local autocast switch, its cast cache, and the
// autocast matmul that autograd's matmul() hands over to when the switch is on.
//
// Users open nn/amp/autocast.h's AutocastGuard; the state lives here, one layer down, so that
// the differentiable matmul (autograd/ops/matmul.cpp) can consult it without autograd depending
// on nn/. While autocast is on, matmul on float32 operands casts both to the compute dtype
// (float16 or bfloat16), multiplies with float accumulation and returns float32; its backward
// runs both GEMMs in that dtype and hands float32 gradients to float32 inputs. Every other op
// runs in its inputs' dtype; float64 operands are never cast (gradchecks). The cast cache keeps
// one low-precision copy of each parameter, or of a single view of one, per outermost region.
// The policy op by op and the cache's rules: docs/labs/07-mixed-precision.md, section 4.
//
// Leaves out: autocasting anything but matmul (and the LSTMs' GEMMs, which ask compute_dtype()).
#pragma once

#include <cstddef>

#include "autograd/variable.h"

namespace loom::autocast {

struct State {
  bool enabled = false;
  DType dtype = DType::Float16;  // the low-precision compute type: Float16 or BFloat16
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

// True for the dtypes autocast can compute in (Float16, BFloat16).
bool is_compute_dtype(DType d);

// The autocast matmul: a [..., m, k] @ b [..., k, n] computed in compute_dtype(), result in
// float32. Gradients come back in each input's dtype.
Variable matmul(const Variable& a, const Variable& b);

}  // namespace loom::autocast
