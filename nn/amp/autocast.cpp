// nn/amp/autocast.cpp: AutocastGuard and the cast-once helpers (see autocast.h).
#include "nn/amp/autocast.h"

#include "autograd/autocast_state.h"
#include "tensor/error.h"

namespace loom::nn::amp {

AutocastGuard::AutocastGuard(DType dtype, bool enabled) {
  LOOM_CHECK(autocast::is_compute_dtype(dtype), "AutocastGuard: unsupported compute dtype ",
             dtype_name(dtype), " (loom's autocast runs GEMMs in float16 or bfloat16)");
  autocast::State s = autocast::state();
  prev_enabled_ = s.enabled;
  prev_dtype_ = s.dtype;
  s.enabled = enabled;
  s.dtype = dtype;
  s.depth += 1;
  autocast::exchange_state(s);
}

AutocastGuard::~AutocastGuard() {
  autocast::State s = autocast::state();
  s.enabled = prev_enabled_;
  s.dtype = prev_dtype_;
  s.depth -= 1;
  autocast::exchange_state(s);
  // Outermost region closed: the optimizer is about to change the master weights in place.
  if (s.depth == 0) autocast::clear_cache();
}

bool autocast_enabled() {
  return autocast::is_enabled();
}

DType autocast_dtype() {
  return autocast::compute_dtype();
}

Tensor cast_once(const Variable& p, DType dtype) {
  LOOM_CHECK(p.defined(), "cast_once: undefined Variable");
  return autocast::cast_cached(p, dtype);
}

void clear_cast_cache() {
  autocast::clear_cache();
}

std::size_t cast_cache_size() {
  return autocast::cache_size();
}

}  // namespace loom::nn::amp
