// tensor/cpu/dtype_dispatch.h (internal): turns a runtime DType into a C++ type.
//
//   dispatch_dtype(dtype, [&](auto tag) { using T = typename decltype(tag)::type; ... });
//
// float16 is Eigen::half and bfloat16 Eigen::bfloat16; CPU kernels compute both in float and
// round on store (ComputeT<T>), which mirrors how CUDA kernels treat __half and makes the CPU the
// fp16 reference. Eigen::bfloat16 rounds a float to nearest, ties to even, and keeps NaN a NaN
// (the same bits as tensor/cpu/gemm/bf16_bits.h, tested in tests/tensor/narrow_dtypes_test.cpp).
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
    case DType::BFloat16:
      return f(TypeTag<Eigen::bfloat16>{});
    case DType::Int8:
      return f(TypeTag<int8_t>{});
    case DType::UInt8:
      return f(TypeTag<uint8_t>{});
  }
  LOOM_FAIL("dispatch_dtype: unknown dtype ", static_cast<int>(dtype));
}

// The 16-bit floating types: stored narrow, computed in float.
template <typename T>
constexpr bool kIsNarrowFloat =
    std::is_same_v<T, Eigen::half> || std::is_same_v<T, Eigen::bfloat16>;

// The type arithmetic is done in: float for half and bfloat16, the type itself otherwise.
template <typename T>
struct Compute {
  using type = T;
};
template <>
struct Compute<Eigen::half> {
  using type = float;
};
template <>
struct Compute<Eigen::bfloat16> {
  using type = float;
};
template <typename T>
using ComputeT = typename Compute<T>::type;

template <typename T>
constexpr bool kIsFloat = std::is_floating_point_v<T> || kIsNarrowFloat<T>;

}  // namespace loom::cpu
