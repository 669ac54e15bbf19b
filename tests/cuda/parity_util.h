// tests/cuda/parity_util.h: what the CPU-vs-CUDA parity tests share.
//
// Every parity test body starts with LOOM_PARITY_BEGIN(): it skips without a CUDA device, draws a
// fresh seed from the clock into `gen` and attaches it to every failure (replay: set
// LOOM_PARITY_SEED=<seed>). The pattern: inputs on the CPU, copied to the device; outputs on BOTH
// devices POISONED (0xFF bytes: NaN, -1, an invalid bool), so an unwritten element never matches;
// the same op on both; expect_close(): integers, bools and exact ops byte for byte, floats within
// Tol{rtol, atol}: |got - ref| <= atol + rtol * s, s = |ref| or a scale tensor. Per dtype:
//   float64  rtol 1e-12: libdevice and glibc differ by an ulp or two (1e-16 relative);
//   float32  rtol 1e-5;
//   float16  rtol 2^-10, atol 2^-24: both round a float result once; a few float ulps apart,
//            the rounding can land on the neighbouring half (2^-10 relative, 2^-24 subnormal);
//   bfloat16 rtol 2^-7: the same with 8 significant bits (float32's range: no subnormal atol).
// For sums and GEMMs s is the sum of |terms|: a sum that cancels to ~0 still carries the rounding
// of its large terms. Recurrences (the LSTM) compare whole tensors: expect_rel_close().
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/runtime/device.h"
#include "tensor/backend.h"
#include "tensor/dtype.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"
#include "tests/common/error_of.h"
#include "tests/cuda/cuda_test_util.h"

namespace loom::test {

inline const Device kCuda{DeviceType::CUDA, 0};

inline const std::vector<DType> kAllDTypes = {DType::Float64,  DType::Float32, DType::Float16,
                                              DType::BFloat16, DType::Int32,   DType::Int64,
                                              DType::Bool};
inline const std::vector<DType> kFloatDTypes = {DType::Float64, DType::Float32, DType::Float16,
                                                DType::BFloat16};
inline const std::vector<DType> kIntDTypes = {DType::Int32, DType::Int64};

// A fresh seed per test: LOOM_PARITY_SEED from the environment when set (to replay a failure),
// else the clock.
inline uint64_t fresh_seed() {
  if (const char* s = std::getenv("LOOM_PARITY_SEED")) return std::strtoull(s, nullptr, 10);
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

#define LOOM_PARITY_BEGIN()                                                        \
  LOOM_SKIP_WITHOUT_CUDA_DEVICE();                                                 \
  const uint64_t parity_seed = ::loom::test::fresh_seed();                         \
  SCOPED_TRACE("seed " + std::to_string(parity_seed) +                             \
               " (replay: LOOM_PARITY_SEED=" + std::to_string(parity_seed) + ")"); \
  ::loom::Generator gen(parity_seed)

struct Tol {
  double rtol = 0, atol = 0;  // both 0: exact (byte for byte)
};

// The elementwise tolerance of a dtype (see the file header); integers and bool are exact.
inline Tol tol_for(DType dtype) {
  switch (dtype) {
    case DType::Float64:
      return {1e-12, 0};
    case DType::Float32:
      return {1e-5, 0};
    case DType::Float16:
      return {1.0 / 1024, 1.0 / 16777216};
    case DType::BFloat16:
      return {1.0 / 128, 0};
    default:
      return {};
  }
}

// The tolerance for a sum or GEMM, relative to a scale tensor (sum of |terms|). float16 sums
// accumulate in float on both backends, then round once; the float sums differ by the order
// (~1e-7 relative), which can flip that rounding: one half-ulp of the result, at most 2^-10 of
// |result| <= scale (2^-7 for bfloat16).
inline Tol sum_tol_for(DType dtype) {
  switch (dtype) {
    case DType::Float64:
      return {1e-12, 0};
    case DType::Float32:
      return {1e-5, 0};
    case DType::Float16:
      return {1.0 / 1024, 1.0 / 16777216};
    case DType::BFloat16:
      return {1.0 / 128, 0};
    default:
      return {};
  }
}

// Uniform values in [lo, hi) as `dtype` on the CPU: integers truncate toward zero; bool is
// "u > (lo + hi) / 2".
inline Tensor random_tensor(const Shape& shape, DType dtype, Generator& gen, double lo = -2,
                            double hi = 2) {
  const Tensor u = uniform(shape, lo, hi, gen, TensorOptions(DType::Float64));
  if (dtype == DType::Bool) return gt(u, (lo + hi) / 2);
  return u.to(dtype);
}

// A tensor of `shape` whose every byte is 0xFF, on `device` (copied there from the host, so
// poisoning does not depend on the device's fill kernel).
inline Tensor poisoned(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, TensorOptions(dtype, kCPU));
  std::memset(t.raw_data(), 0xFF, static_cast<std::size_t>(t.numel()) * dtype_size(dtype));
  return t.to(device);
}

// Poisons the device allocator's free blocks of `bytes`' size class, so that a frontend op's
// freshly allocated output (which the test cannot poison itself) starts as 0xFF bytes: the
// caching allocator hands the newest freed block of a class out first.
inline void poison_cuda_cache(std::size_t bytes, int blocks = 4) {
  std::vector<Tensor> held;
  const int64_t n = static_cast<int64_t>(bytes > 0 ? bytes : 1);
  for (int i = 0; i < blocks; ++i)
    held.push_back(poisoned({n}, DType::Bool, kCuda));
}

inline Backend& cpu_be() {
  return backend_for(kCPU);
}
inline Backend& cuda_be() {
  return backend_for(kCuda);
}

// `got` (any device) against `ref` (any device): same shape and dtype; exact bytes for integer
// and bool tensors or a zero Tol; otherwise |got - ref| <= atol + rtol * s with s = |ref|, or
// scale[i] when a scale tensor (same shape) is given. NaN must meet NaN. Reports the first few
// mismatches with their flat index.
inline ::testing::AssertionResult expect_close_impl(const Tensor& ref_in, const Tensor& got_in,
                                                    Tol tol, const Tensor* scale_in) {
  if (ref_in.shape() != got_in.shape() || ref_in.dtype() != got_in.dtype()) {
    return ::testing::AssertionFailure()
           << "shape/dtype differ: ref " << shape_str(ref_in.shape()) << " "
           << dtype_name(ref_in.dtype()) << ", got " << shape_str(got_in.shape()) << " "
           << dtype_name(got_in.dtype());
  }
  const Tensor ref = ref_in.to(kCPU).contiguous();
  const Tensor got = got_in.to(kCPU).contiguous();
  const int64_t n = ref.numel();
  const bool exact = !is_floating(ref.dtype()) || (tol.rtol == 0 && tol.atol == 0);
  std::ostringstream bad;
  int64_t mismatches = 0;
  if (exact) {
    const std::size_t w = dtype_size(ref.dtype());
    const auto* r = static_cast<const unsigned char*>(ref.raw_data());
    const auto* g = static_cast<const unsigned char*>(got.raw_data());
    for (int64_t i = 0; i < n; ++i) {
      if (std::memcmp(r + i * w, g + i * w, w) == 0) continue;
      if (mismatches++ < 5) {
        int64_t rv = 0, gv = 0;  // the element's bytes as an integer, for the message
        std::memcpy(&rv, r + i * w, w);
        std::memcpy(&gv, g + i * w, w);
        bad << "\n  [" << i << "] bytes ref 0x" << std::hex << rv << " got 0x" << gv << std::dec;
        if (is_floating(ref.dtype())) {
          bad << " (ref " << ref.flatten().select(0, i).item<double>() << ", got "
              << got.flatten().select(0, i).item<double>() << ")";
        }
      }
    }
  } else {
    const std::vector<double> r = ref.to_vector<double>(), g = got.to_vector<double>();
    std::vector<double> s;
    if (scale_in) s = scale_in->to_vector<double>();
    for (int64_t i = 0; i < n; ++i) {
      bool ok;
      if (std::isnan(r[i])) {
        ok = std::isnan(g[i]);
      } else if (std::isinf(r[i])) {
        ok = g[i] == r[i];
      } else {
        const double sc = scale_in ? s[i] : std::fabs(r[i]);
        ok = !std::isnan(g[i]) && std::fabs(g[i] - r[i]) <= tol.atol + tol.rtol * sc;
      }
      if (ok) continue;
      if (mismatches++ < 5) {
        bad.precision(17);
        bad << "\n  [" << i << "] ref " << r[i] << " got " << g[i] << " |diff| "
            << std::fabs(g[i] - r[i]) << " allowed "
            << tol.atol + tol.rtol * (scale_in ? s[i] : std::fabs(r[i]));
      }
    }
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << mismatches << " of " << n << " elements differ (" << dtype_name(ref.dtype()) << " "
         << shape_str(ref.shape()) << ", rtol " << tol.rtol << ", atol " << tol.atol << ")"
         << bad.str();
}

// max |got - ref| / max |ref| <= tol, over whole tensors (any devices, same number of
// elements; NaN in got fails): for results carried through a recurrence, where a small element
// inherits the rounding of the large ones it was computed from. `what` names the tensor.
inline ::testing::AssertionResult expect_rel_close(const Tensor& ref, const Tensor& got, double tol,
                                                   const std::string& what) {
  const std::vector<double> r = ref.to(kCPU).contiguous().to_vector<double>();
  const std::vector<double> g = got.to(kCPU).contiguous().to_vector<double>();
  if (r.size() != g.size()) {
    return ::testing::AssertionFailure()
           << what << ": sizes differ, " << r.size() << " vs " << g.size();
  }
  double diff = 0, scale = 0;
  std::size_t worst = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    const double d = std::isnan(g[i]) ? INFINITY : std::fabs(g[i] - r[i]);
    if (d > diff) diff = d, worst = i;
    scale = std::max(scale, std::fabs(r[i]));
  }
  const double rel = diff / std::max(scale, 1e-30);
  if (rel <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": relative error " << rel << " > " << tol << " (worst element " << worst
         << ": ref " << r[worst] << ", got " << g[worst] << "; max |ref| " << scale << ")";
}

inline ::testing::AssertionResult expect_close(const Tensor& ref, const Tensor& got, Tol tol = {}) {
  return expect_close_impl(ref, got, tol, nullptr);
}
inline ::testing::AssertionResult expect_close(const Tensor& ref, const Tensor& got, Tol tol,
                                               const Tensor& scale) {
  return expect_close_impl(ref, got, tol, &scale);
}

}  // namespace loom::test
