// tensor/tensor.h: loom::Tensor, an n-d array handle, and the factories that make tensors.
//
// A Tensor is a cheap handle (one shared_ptr): copying it shares the data. It holds a Storage
// (bytes on one device), a shape, strides (in elements), an element offset and a dtype.
// Views (view, narrow, transpose, permute, expand, ...) make new handles on the same Storage
// and never copy. Tensor has NO autograd; see autograd/variable.h. Math lives in tensor/ops.h.
//
//   Tensor a = loom::arange(6).reshape({2, 3});   // [[0, 1, 2], [3, 4, 5]]
//   Tensor col = a.narrow(1, 1, 1);               // [2, 1] view, shares a's storage
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/generator.h"
#include "tensor/shape.h"
#include "tensor/storage.h"
#include "tensor/strided_layout.h"

namespace loom {

// dtype and device for factories; implicit from either, so `zeros({2}, DType::Int64)` works.
struct TensorOptions {
  DType dtype = DType::Float32;
  Device device = kCPU;
  TensorOptions() = default;
  TensorOptions(DType d) : dtype(d) {}        // NOLINT: implicit on purpose
  TensorOptions(Device dev) : device(dev) {}  // NOLINT
  TensorOptions(DType d, Device dev) : dtype(d), device(dev) {}
};

// The DType of a C++ element type (double, float, int32_t, int64_t, int8_t, uint8_t, bool).
template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<double>() {
  return DType::Float64;
}
template <>
constexpr DType dtype_of<float>() {
  return DType::Float32;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::Int32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::Int64;
}
template <>
constexpr DType dtype_of<int8_t>() {
  return DType::Int8;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::UInt8;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::Bool;
}

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (defined() == false)
  Tensor(StoragePtr storage, Shape shape, Shape strides, int64_t offset, DType dtype);

  // ---- metadata ---------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t size(int64_t d) const;  // negative d counts from the end
  const Shape& strides() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  int64_t offset() const;  // element offset into the storage
  const StoragePtr& storage() const;
  bool is_contiguous() const;  // dense row-major (size-1 dims may have any stride)

  // ---- data access ------------------------------------------------------------------
  // Pointer to the first element on the tensor's device (any dtype).
  void* raw_data() const;
  // Typed pointer to the first element; CPU only, T must match dtype(). Mind the strides.
  template <typename T>
  T* data_ptr() const {
    LOOM_CHECK(device().is_cpu(), "data_ptr: tensor is on ", device().str(), "; call .to(kCPU)");
    LOOM_CHECK(dtype() == dtype_of<T>(), "data_ptr: tensor has dtype ", dtype_name(dtype()),
               ", asked for ", dtype_name(dtype_of<T>()));
    return static_cast<T*>(raw_data());
  }
  // The single element of a 1-element tensor, converted to T (any device, any dtype).
  template <typename T>
  T item() const {
    LOOM_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ",
               shape_str(shape()));
    return to_vector<T>()[0];
  }
  // All elements in row-major order, converted to T, copied to the host.
  template <typename T>
  std::vector<T> to_vector() const {
    const Tensor c = to(kCPU).to(dtype_of<T>()).contiguous();
    const T* p = c.data_ptr<T>();
    return std::vector<T>(p, p + c.numel());
  }

  // ---- conversion (return *this when nothing changes) -------------------------------
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor contiguous() const;  // *this if already contiguous, else a dense copy
  Tensor clone() const;       // always a dense copy

  // ---- views (no copy) --------------------------------------------------------------
  Tensor view(const Shape& shape) const;     // needs a compatible layout; one -1 allowed
  Tensor reshape(const Shape& shape) const;  // view when possible, else copy
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;  // removes `dim`
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor t() const;                         // 2-D transpose
  Tensor expand(const Shape& shape) const;  // broadcast size-1 dims (stride 0); -1 keeps a size
  Tensor squeeze(int64_t dim) const;
  Tensor squeeze() const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;

  // ---- in-place writes (through views too) ------------------------------------------
  // They change the shared data, not the handle, hence const (as a pointer-to-non-const).
  // Copies src (broadcast to this shape, converted to this dtype/device) into this view.
  const Tensor& copy_(const Tensor& src) const;
  const Tensor& fill_(double value) const;

 private:
  struct Impl {
    StoragePtr storage;
    Shape shape, strides;
    int64_t offset = 0;
    DType dtype = DType::Float32;
  };
  Tensor with_layout(Shape shape, Shape strides, int64_t offset) const;
  const Impl& impl() const;
  std::shared_ptr<Impl> impl_;
};

// PyTorch-style text: tensor([[1.0000, 2.0000]], dtype=float32); long tensors are summarised.
std::ostream& operator<<(std::ostream& out, const Tensor& t);
std::string to_string(const Tensor& t);

// ---- factories (float32 on the CPU unless options say otherwise) -----------------------
Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor scalar_tensor(double value, TensorOptions options = {});  // 0-d
// [start, end) in steps of `step`: arange(5) is [0, 1, 2, 3, 4] (float32 unless told).
Tensor arange(double end, TensorOptions options = {});
Tensor arange(double start, double end, double step = 1, TensorOptions options = {});
// Uniform in [0, 1) / standard normal, from `gen` (default_generator() when not given).
Tensor rand(const Shape& shape, TensorOptions options = {});
Tensor rand(const Shape& shape, Generator& gen, TensorOptions options = {});
Tensor randn(const Shape& shape, TensorOptions options = {});
Tensor randn(const Shape& shape, Generator& gen, TensorOptions options = {});
Tensor uniform(const Shape& shape, double low, double high, Generator& gen,
               TensorOptions options = {});
Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen,
              TensorOptions options = {});
// Copies host values into a new tensor of `shape` (numel must match); dtype from T.
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = kCPU);
// Values given as doubles, stored as options.dtype: tensor({1, 2, 3, 4}, {2, 2}).
Tensor tensor(std::initializer_list<double> values, const Shape& shape, TensorOptions options = {});
Tensor tensor(const std::vector<double>& values, const Shape& shape, TensorOptions options = {});
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);

extern template Tensor from_vector<double>(const std::vector<double>&, const Shape&, Device);
extern template Tensor from_vector<float>(const std::vector<float>&, const Shape&, Device);
extern template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, Device);
extern template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, Device);
extern template Tensor from_vector<int8_t>(const std::vector<int8_t>&, const Shape&, Device);
extern template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, Device);
extern template Tensor from_vector<bool>(const std::vector<bool>&, const Shape&, Device);

}  // namespace loom
