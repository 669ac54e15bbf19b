// cuda/kernels/kernel_types.h: the element-type helpers of the kernels that need no CUDA header:
// the 16-byte vector Pack, the elements per pack (kPackOf), and the compute type (ComputeT) of
// the types plain C++ knows. kernel_convert.cuh adds __half; the tests that run kernel bodies on
// the CPU (tests/cuda/kernel_util_host.h) include both, so host and device share one definition.
// Internal to cuda/ and tests/cuda/.
//
// Leaves out: __half, to_compute and to_out (kernel_convert.cuh), the grid-stride loop
// (launch.cuh).
#pragma once

namespace loom::cuda {

// N elements loaded or stored as one aligned access: 16 bytes when In is 4-byte float and N=4
// (a float4), 8 __halfs, 2 doubles... The alignment is the pack's size, so a Pack* must point
// to memory aligned to sizeof(T) * N (checked by the launcher with is_aligned).
template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

// Elements per 16-byte pack for an input type.
template <typename T>
constexpr int kPackOf = 16 / static_cast<int>(sizeof(T));

static_assert(sizeof(Pack<float, 4>) == 16 && alignof(Pack<float, 4>) == 16, "a float4");
static_assert(sizeof(Pack<double, 2>) == 16 && alignof(Pack<double, 2>) == 16, "a double2");

// The type arithmetic is done in: the type itself, except __half and __nv_bfloat16, which compute
// in float (the specialisations are in kernel_convert.cuh).
template <typename T>
struct Compute {
  using type = T;
};
template <typename T>
using ComputeT = typename Compute<T>::type;

}  // namespace loom::cuda
