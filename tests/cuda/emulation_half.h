// tests/cuda/emulation_half.h: the 16-bit float side of the kernel emulation tests — converting
// test values to and from __half and __nv_bfloat16, and comparing 16-bit (and float) outputs with
// the CPU backend's under the rule of tests/cuda/parity_util.h: both sides compute in float and
// round once, so results are equal, or, where the float results may differ by a few float ulps
// (the host libm against Eigen's vectorised math, another summation order), one ulp apart.
//
//   #if LOOM_EMU_HALF     (set by tests/cuda/kernel_util_host.h, included first)
//   std::vector<__half> x = emu_test::to_halves({1.0, 0.1});
//   expect_half_close(got, want, n, /*ulps=*/1, /*max_off=*/n / 16, "exp");
//   #else
//   GTEST_SKIP() << emu_test::kNoHalf;
//   #endif
// The generic overloads (to_double, from_double) take the arithmetic types in every build, so a
// test template is written once for float, double, __half and __nv_bfloat16; the 16-bit types
// exist only in a CUDA build (LOOM_EMU_HALF == 1). Leaves out: the kernels, the buffers
// (tests/cuda/emulation_buffers.h).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "tensor/tensor.h"
#include "tests/cuda/kernel_util_host.h"

namespace loom::cuda::emu_test {

inline constexpr const char* kNoHalf =
    "float16 emulation needs CUDA's cuda_fp16.h, which a build without CUDA does not have "
    "(configure with CUDA to run the __half instantiations on the CPU)";

#if LOOM_EMU_HALF
template <typename T>
constexpr bool kIsHalf = std::is_same_v<T, __half>;
template <typename T>
constexpr bool kIsBf16 = std::is_same_v<T, __nv_bfloat16>;
#else
template <typename T>
constexpr bool kIsHalf = false;
template <typename T>
constexpr bool kIsBf16 = false;
#endif

// Floating point, the 16-bit types included (the test-side kIsFloat, available in every build).
template <typename T>
constexpr bool kIsFloating = std::is_floating_point_v<T> || kIsHalf<T> || kIsBf16<T>;

// The loom DType of an element type the tests instantiate: float16 for __half, bfloat16 for
// __nv_bfloat16, else tensor/tensor.h's dtype_of.
template <typename T>
constexpr DType dtype_of() {
  if constexpr (kIsHalf<T>) {
    return DType::Float16;
  } else if constexpr (kIsBf16<T>) {
    return DType::BFloat16;
  } else {
    return loom::dtype_of<T>();
  }
}

// Test values to double and back; to T through float for __half (as every loom conversion to
// float16 goes: the kernels' to_out, the CPU's Eigen::half(float), fill's host conversion).
template <typename T>
double to_double(T v) {
  return static_cast<double>(v);
}
template <typename T>
T from_double(double v) {
  return static_cast<T>(v);
}
template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(v);
  else
    return false;
}

// A quiet NaN of T (for __half: 0x7E00, not the poison pattern 0xFFFF, so a copied NaN is told
// from an unwritten element).
template <typename T>
T nan_value() {
  return std::numeric_limits<T>::quiet_NaN();
}

// Whether all bytes of v are 0xFF: the poison of tests/cuda/emulation_buffers.h (a NaN for every
// floating type), i.e. an element nothing wrote.
template <typename T>
bool is_poison(const T& v) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  for (unsigned char x : b)
    if (x != 0xFF) return false;
  return true;
}

#if LOOM_EMU_HALF
// A __half's bits and back, through cuda_fp16.h's __half_raw.
inline uint16_t half_bits(__half h) {
  return static_cast<__half_raw>(h).x;
}
inline __half half_from_bits(uint16_t b) {
  __half_raw raw;
  raw.x = b;
  return __half(raw);
}
template <>
inline double to_double<__half>(__half v) {
  return static_cast<double>(__half2float(v));
}
template <>
inline __half from_double<__half>(double v) {
  return __float2half_rn(static_cast<float>(v));
}
template <>
inline bool is_nan<__half>(__half v) {
  return (half_bits(v) & 0x7FFF) > 0x7C00;
}
template <>
inline __half nan_value<__half>() {
  return half_from_bits(0x7E00);
}

// A __nv_bfloat16's bits, and its conversions (through float, as loom converts to bfloat16).
inline uint16_t bf16_bits(__nv_bfloat16 h) {
  return static_cast<__nv_bfloat16_raw>(h).x;
}
template <>
inline double to_double<__nv_bfloat16>(__nv_bfloat16 v) {
  return static_cast<double>(__bfloat162float(v));
}
template <>
inline __nv_bfloat16 from_double<__nv_bfloat16>(double v) {
  return __float2bfloat16_rn(static_cast<float>(v));
}
template <>
inline bool is_nan<__nv_bfloat16>(__nv_bfloat16 v) {
  return (bf16_bits(v) & 0x7FFF) > 0x7F80;
}

// Position of h on the number line in half-ulps: consecutive finite halves differ by 1, and
// -0 and +0 are both 0 (compared as values).
inline int half_ulp_index(__half h) {
  const int b = half_bits(h);
  return (b & 0x8000) ? -(b & 0x7FFF) : b;
}

inline std::vector<__half> to_halves(const std::vector<double>& values) {
  std::vector<__half> out;
  for (double v : values)
    out.push_back(from_double<__half>(v));
  return out;
}

// got against the CPU's want, float16: at most `ulps` half-ulps apart (0: the same value, +0 ==
// -0), and at most `max_off` elements not equal; a NaN must meet a NaN that is not the poison.
// Reports the first 3 failures; returns how many elements were not equal (for the caller's
// bit-exactness claims).
inline int64_t expect_half_close(const __half* got, const __half* want, int64_t n, int ulps,
                                 int64_t max_off, const std::string& what) {
  int bad = 0;
  int64_t off = 0;
  for (int64_t i = 0; i < n; ++i) {
    bool ok;
    if (is_nan(want[i]) || is_nan(got[i])) {
      ok = is_nan(want[i]) && is_nan(got[i]) && !is_poison(got[i]);
    } else {
      const int d = std::abs(half_ulp_index(got[i]) - half_ulp_index(want[i]));
      off += d != 0;
      ok = d <= ulps;
    }
    if (!ok && bad++ < 3) {
      ADD_FAILURE() << what << " element " << i << ": emulated kernel " << to_double(got[i])
                    << " (0x" << std::hex << half_bits(got[i]) << "), CPU " << to_double(want[i])
                    << " (0x" << half_bits(want[i]) << std::dec << ")";
    }
  }
  EXPECT_LE(off, max_off) << what << ": " << off << " of " << n
                          << " elements one half-ulp off the CPU's (more than a few float ulps of "
                             "difference could explain)";
  return off;
}
#endif

// Floating outputs, bit for bit except NaN: a NaN must meet a NaN that is not the poison (CUDA's
// conversions give the canonical NaN, Eigen's keep the sign and payload; both are "NaN").
template <typename T>
void expect_same_bits_or_nan(const T* got, const T* want, int64_t n, const std::string& what) {
  int bad = 0;
  for (int64_t i = 0; i < n && bad < 3; ++i) {
    const bool ok = is_nan(want[i]) ? is_nan(got[i]) && !is_poison(got[i])
                                    : std::memcmp(got + i, want + i, sizeof(T)) == 0;
    if (!ok) {
      ++bad;
      ADD_FAILURE() << what << " element " << i << ": emulated kernel " << to_double(got[i])
                    << ", CPU " << to_double(want[i]);
    }
  }
}

}  // namespace loom::cuda::emu_test
