// cuda/kernels/kernel_convert.cuh: how the kernels convert elements: the compute type of __half
// and __nv_bfloat16 (float), kIsFloat, to_compute (element -> compute type) and to_out (compute
// value -> element, rounding to nearest even for both 16-bit types, as tensor/cpu/ does with
// Eigen::half and its bfloat16). Internal to cuda/ and tests/cuda/.
//
// A header of its own because it needs cuda_fp16.h / cuda_bf16.h and nothing else of CUDA, and
// CUDA 13's headers compile as host C++: so these very definitions serve nvcc (through
// kernel_util.cuh) and the tests that run the kernel bodies on the CPU in a CUDA build
// (tests/cuda/kernel_util_host.h): one copy of the rounding rules.
//
// Leaves out: dispatch, ErrorSlot (kernel_util.cuh), packs (kernel_types.h).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "cuda/kernels/kernel_types.h"

namespace loom::cuda {

// The type arithmetic is done in: float for the 16-bit floats, the type itself otherwise
// (Compute and ComputeT are in cuda/kernels/kernel_types.h).
template <>
struct Compute<__half> {
  using type = float;
};
template <>
struct Compute<__nv_bfloat16> {
  using type = float;
};

template <typename T>
constexpr bool kIsFloat =
    std::is_floating_point_v<T> || std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

// Element -> compute type, and compute value -> element (rounding to nearest even for the 16-bit
// floats; bfloat16 is float32's upper half, so its conversion to float is exact).
__device__ __forceinline__ float to_compute(__half v) {
  return __half2float(v);
}
__device__ __forceinline__ float to_compute(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
template <typename T>
__device__ __forceinline__ T to_compute(T v) {
  return v;
}
template <typename Out, typename V>
__device__ __forceinline__ Out to_out(V v) {
  if constexpr (std::is_same_v<Out, __half>) {
    return __float2half_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<Out, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(v));
  } else {
    return static_cast<Out>(v);
  }
}

}  // namespace loom::cuda
