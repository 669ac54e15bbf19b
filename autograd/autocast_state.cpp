// autograd/autocast_state.cpp: the thread-local autocast state and cast cache (see the header).
#include "autograd/autocast_state.h"

#include <map>
#include <memory>
#include <tuple>

#include "autograd/node.h"

namespace loom::autocast {
namespace {

// A cached cast is keyed on the parameter and the view of it that was cast (a parameter is
// often used through a view: Linear multiplies by transpose(weight)).
using CacheKey = std::tuple<const VariableImpl*, int64_t, Shape, Shape, DType>;

struct CacheEntry {
  std::weak_ptr<VariableImpl> owner;  // expired: the parameter died, its address may be reused
  const void* data = nullptr;         // the parameter's buffer when cast: set_data() changes it
  Tensor cast;
};

thread_local State t_state;
thread_local std::map<CacheKey, CacheEntry> t_cache;

bool is_float(DType d) {
  return d == DType::Float32 || d == DType::Float64 || is_compute_dtype(d);
}

// The parameter (a leaf that requires grad) whose storage `v` shows: v itself, or the input of
// the one view op (transpose, narrow, reshape without copy, ...) that produced v. nullptr for
// anything else: activations are new tensors at every use and are not cached.
std::shared_ptr<VariableImpl> parameter_behind(const Variable& v) {
  if (v.is_leaf()) return v.requires_grad() ? v.impl() : nullptr;
  const auto& inputs = v.grad_fn()->inputs();
  if (inputs.size() != 1 || !inputs[0].leaf) return nullptr;
  // Same storage = a view of the parameter, not a value computed from it (exp(w) is new).
  if (v.data().storage() != inputs[0].leaf->data.storage()) return nullptr;
  return inputs[0].leaf;
}

}  // namespace

bool is_compute_dtype(DType d) {
  return d == DType::Float16 || d == DType::BFloat16;
}

const State& state() {
  return t_state;
}
bool is_enabled() {
  return t_state.enabled;
}
DType compute_dtype() {
  return t_state.dtype;
}

State exchange_state(const State& s) {
  const State old = t_state;
  t_state = s;
  return old;
}

bool casts_matmul(DType a, DType b) {
  if (!t_state.enabled || !is_float(a) || !is_float(b)) return false;
  if (a == DType::Float64 || b == DType::Float64) return false;
  return a == DType::Float32 || b == DType::Float32;
}

Tensor cast_cached(const Variable& v, DType dtype) {
  const Tensor& data = v.data();
  if (data.dtype() == dtype) return data;
  if (!t_state.enabled) return data.to(dtype);
  const std::shared_ptr<VariableImpl> param = parameter_behind(v);
  if (!param) return data.to(dtype);
  const CacheKey key{param.get(), data.offset(), data.shape(), data.strides(), dtype};
  const void* param_data = param->data.raw_data();
  auto it = t_cache.find(key);
  if (it != t_cache.end() && !it->second.owner.expired() && it->second.data == param_data)
    return it->second.cast;
  CacheEntry entry{param, param_data, data.to(dtype)};
  Tensor out = entry.cast;
  t_cache[key] = std::move(entry);
  return out;
}

void clear_cache() {
  t_cache.clear();
}

std::size_t cache_size() {
  return t_cache.size();
}

}  // namespace loom::autocast
