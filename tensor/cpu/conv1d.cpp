// tensor/cpu/conv1d.cpp: the CPU backend's Conv1d kernels: im2col, its adjoint col2im, and the
// direct loop. Contract: tensor/fused_kernels.h (Conv1dShape); caller: tensor/conv1d.cpp; CUDA
// twin: cuda/kernels/conv1d.cu.
//
// im2col copies each x row [C] into K places of the column matrix: a plain loop over (b, t, c, k)
// that costs K * B * T * C moves, next to the GEMM's O times more multiply-adds. col2im reads the
// same places back and sums them in a fixed order (k ascending), so its result does not depend on
// the thread count. The direct loop is the textbook sum, written to be read, not to be fast.
//
// Leaves out: float16/bfloat16 (the Tensor op refuses them), a fused im2col-in-GEMM packing.
#include <cstring>
#include <type_traits>

#include "tensor/cpu/backend.h"
#include "tensor/cpu/threads.h"
#include "tensor/error.h"

namespace loom {
namespace cpu {
namespace {

// Calls f with a null T* (the type as a tag) for float32 / float64; refuses other dtypes.
template <typename F>
void dispatch_float(DType dtype, const char* op, F&& f) {
  if (dtype == DType::Float32) return f(static_cast<float*>(nullptr));
  if (dtype == DType::Float64) return f(static_cast<double*>(nullptr));
  LOOM_FAIL(op, ": float32 or float64 only, got ", dtype_name(dtype));
}

// cols[b, t, c*K + k] = x[b, t + k - P, c], or 0 outside [0, T).
template <typename T>
void im2col(const T* x, T* cols, const Conv1dShape& s) {
  const int64_t To = s.t_out(), CK = s.C * s.K;
  for_each_row_slice(s.B * To, s.B * To * CK, [&](int64_t first, int64_t count) {
    for (int64_t r = first; r < first + count; ++r) {
      const int64_t b = r / To, t = r % To;
      T* row = cols + r * CK;
      for (int64_t k = 0; k < s.K; ++k) {
        const int64_t src = t + k - s.P;
        const bool inside = src >= 0 && src < s.T;
        const T* xs = x + (b * s.T + src) * s.C;
        for (int64_t c = 0; c < s.C; ++c)
          row[c * s.K + k] = inside ? xs[c] : T(0);
      }
    }
  });
}

// dx[b, j, c] = sum over k of cols[b, j - k + P, c*K + k] (the terms whose t is in [0, T_out)).
template <typename T>
void col2im(const T* cols, T* dx, const Conv1dShape& s) {
  const int64_t To = s.t_out(), CK = s.C * s.K;
  for_each_row_slice(s.B * s.T, s.B * s.T * CK, [&](int64_t first, int64_t count) {
    for (int64_t r = first; r < first + count; ++r) {
      const int64_t b = r / s.T, j = r % s.T;
      T* out = dx + r * s.C;
      std::memset(static_cast<void*>(out), 0, sizeof(T) * static_cast<std::size_t>(s.C));
      for (int64_t k = 0; k < s.K; ++k) {
        const int64_t t = j - k + s.P;
        if (t < 0 || t >= To) continue;
        const T* row = cols + (b * To + t) * CK;
        for (int64_t c = 0; c < s.C; ++c)
          out[c] += row[c * s.K + k];
      }
    }
  });
}

// y[b, t, o] = bias[o] + sum over c, k of x[b, t + k - P, c] * w[o, c, k], accumulated in T.
template <typename T>
void direct(const T* x, const T* w, const T* bias, T* y, const Conv1dShape& s, int64_t O) {
  const int64_t To = s.t_out();
  for_each_row_slice(s.B * To, s.B * To * O * s.C * s.K, [&](int64_t first, int64_t count) {
    for (int64_t r = first; r < first + count; ++r) {
      const int64_t b = r / To, t = r % To;
      for (int64_t o = 0; o < O; ++o) {
        T acc = bias ? bias[o] : T(0);
        for (int64_t c = 0; c < s.C; ++c) {
          for (int64_t k = 0; k < s.K; ++k) {
            const int64_t src = t + k - s.P;
            if (src < 0 || src >= s.T) continue;  // a zero of the padding
            acc += x[(b * s.T + src) * s.C + c] * w[(o * s.C + c) * s.K + k];
          }
        }
        y[r * O + o] = acc;
      }
    }
  });
}

void check_shape(const char* op, const Conv1dShape& s) {
  LOOM_CHECK(s.B >= 0 && s.T >= 1 && s.C >= 1 && s.K >= 1 && s.P >= 0 && s.t_out() >= 1, op,
             ": bad shape B ", s.B, " T ", s.T, " C ", s.C, " K ", s.K, " P ", s.P);
}

}  // namespace

void CpuBackend::conv1d_im2col(const void* x, void* cols, DType dtype, const Conv1dShape& s) {
  check_shape("conv1d_im2col", s);
  dispatch_float(dtype, "conv1d_im2col", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    im2col(static_cast<const T*>(x), static_cast<T*>(cols), s);
  });
}

void CpuBackend::conv1d_col2im(const void* cols, void* dx, DType dtype, const Conv1dShape& s) {
  check_shape("conv1d_col2im", s);
  dispatch_float(dtype, "conv1d_col2im", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    col2im(static_cast<const T*>(cols), static_cast<T*>(dx), s);
  });
}

void CpuBackend::conv1d_direct(const void* x, const void* w, const void* bias, void* y, DType dtype,
                               const Conv1dShape& s, int64_t out_channels) {
  check_shape("conv1d_direct", s);
  LOOM_CHECK(out_channels >= 1, "conv1d_direct: out_channels must be >= 1, got ", out_channels);
  dispatch_float(dtype, "conv1d_direct", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    direct(static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(bias),
           static_cast<T*>(y), s, out_channels);
  });
}

}  // namespace cpu
}  // namespace loom
