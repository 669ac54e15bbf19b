// tensor/factories.cpp: functions that create new tensors (empty, zeros, arange, rand, ...).
#include <cmath>

#include "tensor/backend.h"
#include "tensor/tensor.h"

namespace loom {

Tensor empty(const Shape& shape, TensorOptions o) {
  for (int64_t s : shape)
    LOOM_CHECK(s >= 0, "empty: negative size in shape ", shape_str(shape));
  auto storage = std::make_shared<Storage>(numel(shape) * dtype_size(o.dtype), o.device);
  return Tensor(std::move(storage), shape, contiguous_strides(shape), 0, o.dtype);
}

Tensor full(const Shape& shape, double value, TensorOptions o) {
  Tensor t = empty(shape, o);
  backend_for(o.device).fill(t.raw_data(), o.dtype, t.numel(), value);
  return t;
}

Tensor zeros(const Shape& shape, TensorOptions o) {
  return full(shape, 0.0, o);
}
Tensor ones(const Shape& shape, TensorOptions o) {
  return full(shape, 1.0, o);
}
Tensor scalar_tensor(double value, TensorOptions o) {
  return full({}, value, o);
}

Tensor arange(double end, TensorOptions o) {
  return arange(0, end, 1, o);
}

Tensor arange(double start, double end, double step, TensorOptions o) {
  LOOM_CHECK(step != 0, "arange: step must be nonzero");
  const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((end - start) / step)));
  std::vector<double> values(n);
  for (int64_t i = 0; i < n; ++i)
    values[i] = start + step * static_cast<double>(i);
  return tensor(values, {n}, o);
}

Tensor uniform(const Shape& shape, double low, double high, Generator& gen, TensorOptions o) {
  LOOM_CHECK(is_floating(o.dtype), "rand: expected a floating dtype, got ", dtype_name(o.dtype));
  Tensor t = empty(shape, o);
  const uint64_t first = gen.advance(t.numel());
  backend_for(o.device).random_uniform(t.raw_data(), o.dtype, t.numel(), gen.seed(), first, low,
                                       high);
  return t;
}

Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen, TensorOptions o) {
  LOOM_CHECK(is_floating(o.dtype), "randn: expected a floating dtype, got ", dtype_name(o.dtype));
  Tensor t = empty(shape, o);
  const uint64_t first = gen.advance(t.numel());
  backend_for(o.device).random_normal(t.raw_data(), o.dtype, t.numel(), gen.seed(), first, mean,
                                      stddev);
  return t;
}

Tensor rand(const Shape& shape, TensorOptions o) {
  return uniform(shape, 0, 1, default_generator(), o);
}
Tensor rand(const Shape& shape, Generator& gen, TensorOptions o) {
  return uniform(shape, 0, 1, gen, o);
}
Tensor randn(const Shape& shape, TensorOptions o) {
  return normal(shape, 0, 1, default_generator(), o);
}
Tensor randn(const Shape& shape, Generator& gen, TensorOptions o) {
  return normal(shape, 0, 1, gen, o);
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  LOOM_CHECK(static_cast<int64_t>(values.size()) == numel(shape), "from_vector: ", values.size(),
             " values do not fill shape ", shape_str(shape), " (", numel(shape), " elements)");
  Tensor host = empty(shape, TensorOptions(dtype_of<T>(), kCPU));
  T* p = host.data_ptr<T>();
  for (size_t i = 0; i < values.size(); ++i)
    p[i] = values[i];  // (vector<bool> has no data())
  return host.to(device);
}

template Tensor from_vector<double>(const std::vector<double>&, const Shape&, Device);
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, Device);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, Device);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, Device);
template Tensor from_vector<int8_t>(const std::vector<int8_t>&, const Shape&, Device);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, Device);
template Tensor from_vector<bool>(const std::vector<bool>&, const Shape&, Device);

Tensor tensor(const std::vector<double>& values, const Shape& shape, TensorOptions o) {
  return from_vector<double>(values, shape, kCPU).to(o.dtype).to(o.device);
}

Tensor tensor(std::initializer_list<double> values, const Shape& shape, TensorOptions o) {
  return tensor(std::vector<double>(values), shape, o);
}

Tensor empty_like(const Tensor& t) {
  return empty(t.shape(), TensorOptions(t.dtype(), t.device()));
}
Tensor zeros_like(const Tensor& t) {
  return zeros(t.shape(), TensorOptions(t.dtype(), t.device()));
}
Tensor ones_like(const Tensor& t) {
  return ones(t.shape(), TensorOptions(t.dtype(), t.device()));
}
Tensor full_like(const Tensor& t, double value) {
  return full(t.shape(), value, TensorOptions(t.dtype(), t.device()));
}

}  // namespace loom
