// cuda/kernels/elementwise_kernels.cuh: the kernels of elementwise.cu: map1 and map2 (a 16-byte
// pack path and a scalar path) and where, with the per-element functors of every unary, scalar
// and binary op and the device math they call. Internal to cuda/ and tests/cuda/.
//
// An emulated kernel header (cuda/README.md, "Kernel headers"): no CUDA API beyond the
// grid-stride loop and the C math functions (expf, tanhf, powf...), so
// tests/cuda/elementwise_kernels_emulation_test.cpp runs these bodies on the CPU, where the math
// is the host libm's, not libdevice's.
//
// Leaves out: the launchers, the dtype/op dispatch and what each dtype refuses (elementwise.cu).
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "cuda/kernels/kernel_types.h"
#include "cuda/kernels/launch.cuh"
#include "tensor/backend.h"  // UnaryOp, ScalarOp, BinaryOp

#ifdef __CUDACC__
#include "cuda/kernels/kernel_util.cuh"  // to_compute, to_out
#endif

namespace loom::cuda::elementwise_kernels {

// ---- device math, overloaded for float and double ---------------------------------------

__device__ __forceinline__ float m_exp(float x) {
  return expf(x);
}
__device__ __forceinline__ double m_exp(double x) {
  return exp(x);
}
__device__ __forceinline__ float m_expm1(float x) {
  return expm1f(x);
}
__device__ __forceinline__ double m_expm1(double x) {
  return expm1(x);
}
__device__ __forceinline__ float m_log(float x) {
  return logf(x);
}
__device__ __forceinline__ double m_log(double x) {
  return log(x);
}
__device__ __forceinline__ float m_tanh(float x) {
  return tanhf(x);
}
__device__ __forceinline__ double m_tanh(double x) {
  return tanh(x);
}
__device__ __forceinline__ float m_sqrt(float x) {
  return sqrtf(x);
}
__device__ __forceinline__ double m_sqrt(double x) {
  return sqrt(x);
}
__device__ __forceinline__ float m_abs(float x) {
  return fabsf(x);
}
__device__ __forceinline__ double m_abs(double x) {
  return fabs(x);
}
__device__ __forceinline__ float m_pow(float x, float y) {
  return powf(x, y);
}
__device__ __forceinline__ double m_pow(double x, double y) {
  return pow(x, y);
}

// ---- functors: one element, in the compute type C ----------------------------------------

template <UnaryOp O>
struct UnaryF {
  template <typename C>
  __device__ C operator()(C x) const {
    if constexpr (O == UnaryOp::Neg) {
      return static_cast<C>(-x);
    } else if constexpr (O == UnaryOp::Abs) {
      if constexpr (std::is_floating_point_v<C>) {
        return m_abs(x);
      } else {
        return x < C(0) ? static_cast<C>(-x) : x;
      }
    } else if constexpr (O == UnaryOp::Sign) {
      return static_cast<C>((x > C(0)) - (x < C(0)));
    } else if constexpr (O == UnaryOp::Relu) {
      return x > C(0) ? x : C(0);
    } else if constexpr (O == UnaryOp::Exp) {
      return m_exp(x);
    } else if constexpr (O == UnaryOp::Log) {
      return m_log(x);
    } else if constexpr (O == UnaryOp::Tanh) {
      return m_tanh(x);
    } else if constexpr (O == UnaryOp::Sqrt) {
      return m_sqrt(x);
    } else {
      static_assert(O == UnaryOp::Sigmoid);
      return C(1) / (C(1) + m_exp(-x));  // the CPU's formula
    }
  }
};

// Floating x op s, with s already converted to C (as the CPU converts it to T, or float).
template <ScalarOp O, typename C>
struct ScalarFloatF {
  C s;
  __device__ C operator()(C x) const {
    if constexpr (O == ScalarOp::Add) {
      return x + s;
    } else if constexpr (O == ScalarOp::Mul) {
      return x * s;
    } else if constexpr (O == ScalarOp::Div) {
      return x / s;
    } else if constexpr (O == ScalarOp::RSub) {
      return s - x;
    } else if constexpr (O == ScalarOp::RDiv) {
      return s / x;
    } else if constexpr (O == ScalarOp::Pow) {
      return m_pow(x, s);
    } else if constexpr (O == ScalarOp::LeakyRelu) {
      return x > C(0) ? x : s * x;
    } else if constexpr (O == ScalarOp::Max) {
      return x < s ? s : x;
    } else if constexpr (O == ScalarOp::Elu) {
      return x > C(0) ? x : s * m_expm1(x);
    } else {
      static_assert(O == ScalarOp::Min);
      return s < x ? s : x;
    }
  }
};

// Integer x op s, computed in double and truncated back to T, as the CPU does.
template <ScalarOp O, typename T>
struct ScalarIntF {
  double s;
  __device__ T operator()(T xi) const {
    const double x = static_cast<double>(xi);
    double r = 0;
    if constexpr (O == ScalarOp::Add) r = x + s;
    if constexpr (O == ScalarOp::Mul) r = x * s;
    if constexpr (O == ScalarOp::Div) r = trunc(x / s);
    if constexpr (O == ScalarOp::RSub) r = s - x;
    if constexpr (O == ScalarOp::Max) r = x < s ? s : x;
    if constexpr (O == ScalarOp::Min) r = s < x ? s : x;
    return static_cast<T>(r);
  }
};

// a op b. Comparisons return bool; the rest C. Integer division by zero writes 0 to *error
// (any thread may; they all write the same) and produces 0.
template <BinaryOp O>
struct BinaryF {
  unsigned long long* error = nullptr;
  template <typename C>
  __device__ auto operator()(C a, C b) const {
    if constexpr (O == BinaryOp::Eq)
      return a == b;
    else if constexpr (O == BinaryOp::Ne)
      return a != b;
    else if constexpr (O == BinaryOp::Lt)
      return a < b;
    else if constexpr (O == BinaryOp::Le)
      return a <= b;
    else if constexpr (O == BinaryOp::Gt)
      return a > b;
    else if constexpr (O == BinaryOp::Ge)
      return a >= b;
    else if constexpr (O == BinaryOp::Max)
      return a < b ? b : a;
    else if constexpr (O == BinaryOp::Min)
      return b < a ? b : a;
    else if constexpr (O == BinaryOp::Add)
      return static_cast<C>(a + b);
    else if constexpr (O == BinaryOp::Sub)
      return static_cast<C>(a - b);
    else if constexpr (O == BinaryOp::Mul)
      return static_cast<C>(a * b);
    else if constexpr (O == BinaryOp::Pow)
      return m_pow(a, b);
    else {
      static_assert(O == BinaryOp::Div);
      if constexpr (std::is_floating_point_v<C>) {
        return a / b;
      } else {
        if (b == C(0)) {
          *error = 0;
          return C(0);
        }
        return static_cast<C>(a / b);
      }
    }
  }
};

// ---- kernels -----------------------------------------------------------------------------

// y[i] = f(x[i]) for i in [0, n). vec: packs of N (all pointers aligned), then the tail.
template <typename In, typename Out, int N, typename F>
__global__ void map1_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t n, bool vec,
                            F f) {
  // BEGIN LAB 08 TASK 1 uses(x, y, n, vec, f)
  int64_t done = 0;
  if (vec) {
    const int64_t packs = n / N;
    const auto* xp = reinterpret_cast<const Pack<In, N>*>(x);
    auto* yp = reinterpret_cast<Pack<Out, N>*>(y);
    for (int64_t p : grid_stride(packs)) {
      const Pack<In, N> a = xp[p];
      Pack<Out, N> r;
#pragma unroll
      for (int j = 0; j < N; ++j)
        r.v[j] = to_out<Out>(f(to_compute(a.v[j])));
      yp[p] = r;
    }
    done = packs * N;
  }
  for (int64_t i : grid_stride(n - done))
    y[done + i] = to_out<Out>(f(to_compute(x[done + i])));
  // END LAB 08 TASK 1
}

// out[i] = f(a[i], b[i]); same two paths as map1_kernel.
template <typename In, typename Out, int N, typename F>
__global__ void map2_kernel(const In* __restrict__ a, const In* __restrict__ b,
                            Out* __restrict__ out, int64_t n, bool vec, F f) {
  int64_t done = 0;
  if (vec) {
    const int64_t packs = n / N;
    const auto* ap = reinterpret_cast<const Pack<In, N>*>(a);
    const auto* bp = reinterpret_cast<const Pack<In, N>*>(b);
    auto* op = reinterpret_cast<Pack<Out, N>*>(out);
    for (int64_t p : grid_stride(packs)) {
      const Pack<In, N> x = ap[p], y = bp[p];
      Pack<Out, N> r;
#pragma unroll
      for (int j = 0; j < N; ++j)
        r.v[j] = to_out<Out>(f(to_compute(x.v[j]), to_compute(y.v[j])));
      op[p] = r;
    }
    done = packs * N;
  }
  for (int64_t i : grid_stride(n - done)) {
    out[done + i] = to_out<Out>(f(to_compute(a[done + i]), to_compute(b[done + i])));
  }
}

// out[i] = cond[i] ? a[i] : b[i], moving element-sized words.
template <typename W>
__global__ void where_kernel(const bool* __restrict__ cond, const W* __restrict__ a,
                             const W* __restrict__ b, W* __restrict__ out, int64_t n) {
  for (int64_t i : grid_stride(n))
    out[i] = cond[i] ? a[i] : b[i];
}

}  // namespace loom::cuda::elementwise_kernels
