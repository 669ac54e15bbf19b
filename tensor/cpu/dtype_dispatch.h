// tensor/cpu/dtype_dispatch.h (internal): turns a runtime DType into a C++ type.
//
//   dispatch_dtype(dtype, [&](auto tag) { using T = typename decltype(tag)::type; ... });
//
// float16 is Eigen::half; CPU kernels compute it in float and round on store (ComputeT<T>),
// which mirrors how CUDA kernels treat __half and makes the CPU the fp16 reference.
// Only CPU backend sources include this (it pulls in Eigen).
#pragma once

#include <Eigen/Core>
#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/error.h"

namespace loom::cpu {

template <typename T>
struct TypeTag {
  using type = T;
};

template <typename F>
decltype(auto) dispatch_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float64:
      return f(TypeTag<double>{});
    case DType::Float32:
      return f(TypeTag<float>{});
    case DType::Float16:
      return f(TypeTag<Eigen::half>{});
    case DType::Int32:
      return f(TypeTag<int32_t>{});
    case DType::Int64:
      return f(TypeTag<int64_t>{});
    case DType::Bool:
      return f(TypeTag<bool>{});
  }
  LOOM_FAIL("dispatch_dtype: unknown dtype ", static_cast<int>(dtype));
}

// The type arithmetic is done in: float for half, the type itself otherwise.
template <typename T>
struct Compute {
  using type = T;
};
template <>
struct Compute<Eigen::half> {
  using type = float;
};
template <typename T>
using ComputeT = typename Compute<T>::type;

template <typename T>
constexpr bool kIsFloat = std::is_floating_point_v<T> || std::is_same_v<T, Eigen::half>;

}  // namespace loom::cpu
