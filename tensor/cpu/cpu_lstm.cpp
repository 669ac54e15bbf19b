// tensor/cpu/cpu_lstm.cpp: the CPU backend's fused LSTM pointwise update (forward and backward).
//
// One timestep of the LSTM after its GEMMs, for B rows of H hidden units: each (b, j) calls the
// per-element math of tensor/kernels/lstm_pointwise.h, the same code the CUDA kernel runs. The
// loops over rows are split between OpenMP threads (as many as the GEMMs use, see
// cpu/threads.h); the inner loop over units is `omp simd`, and this file is compiled with
// -ffast-math (tensor/CMakeLists.txt) so that GCC calls glibc's vector expf/tanhf (libmvec) for
// it: the scalar loop was 5x slower, and these transcendentals are most of an LSTM step's
// non-GEMM time. -ffast-math is safe here: lstm_sigmoid never overflows exp, there are no
// infinities or NaNs to preserve from finite inputs, and the test compares against the scalar
// double math (tests/nn/lstm_fused_test.cpp).
//
// Also here: the Backend interface's default for the pair (throws), so a backend that has not
// implemented them still builds.
//
// Leaves out: float16 (the fused LSTM on the CPU is float32/float64; fp16 storage is a GPU
// matter, lab 07).
#include <omp.h>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/threads.h"
#include "tensor/error.h"
#include "tensor/kernels/lstm_pointwise.h"

namespace loom {

void Backend::lstm_pointwise_forward(void*, const void*, void*, void*, void*, DType dtype, int64_t,
                                     int64_t) {
  LOOM_FAIL("lstm_pointwise_forward: not implemented by backend ", name(), " (dtype ",
            dtype_name(dtype), ")");
}

void Backend::lstm_pointwise_backward(const void*, void*, const void*, void*, const void*,
                                      const void*, DType dtype, int64_t, int64_t) {
  LOOM_FAIL("lstm_pointwise_backward: not implemented by backend ", name(), " (dtype ",
            dtype_name(dtype), ")");
}

namespace cpu {
namespace {

// Threads for B rows of H units: below ~16k elements a parallel region costs more than it saves.
int pointwise_threads(int64_t B, int64_t H) {
  return B * H >= 4096 ? get_num_threads() : 1;
}

template <typename T>
void forward_impl(T* gates, const T* c_prev, T* c, T* tanh_c, T* h, int64_t B, int64_t H) {
#pragma omp parallel for num_threads(pointwise_threads(B, H)) schedule(static)
  for (int64_t b = 0; b < B; ++b) {
    T* row = gates + b * 4 * H;  // [4H]: pre-activations in, activations out (in place)
    const int64_t o = b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      kernels::lstm_pointwise_forward_at<T, T>(row + j, H, c_prev + o + j, row + j, c + o + j,
                                               tanh_c + o + j, h + o + j);
    }
  }
}

template <typename T>
void backward_impl(const T* dh, T* dc, const T* act, T* d_pre, const T* c_prev, const T* tanh_c,
                   int64_t B, int64_t H) {
#pragma omp parallel for num_threads(pointwise_threads(B, H)) schedule(static)
  for (int64_t b = 0; b < B; ++b) {
    const T* a = act + b * 4 * H;  // [4H] saved activations
    T* d = d_pre + b * 4 * H;      // [4H] d(pre-activations); may alias a
    const int64_t o = b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      // dc is read (as dc_next) before it is written (as dc_prev): in place is fine.
      kernels::lstm_pointwise_backward_at<T, T>(dh + o + j, dc + o + j, a + j, H, c_prev + o + j,
                                                tanh_c + o + j, d + j, dc + o + j);
    }
  }
}

}  // namespace

void CpuBackend::lstm_pointwise_forward(void* gates, const void* c_prev, void* c, void* tanh_c,
                                        void* h, DType dtype, int64_t B, int64_t H) {
  switch (dtype) {
    case DType::Float32:
      return forward_impl(static_cast<float*>(gates), static_cast<const float*>(c_prev),
                          static_cast<float*>(c), static_cast<float*>(tanh_c),
                          static_cast<float*>(h), B, H);
    case DType::Float64:
      return forward_impl(static_cast<double*>(gates), static_cast<const double*>(c_prev),
                          static_cast<double*>(c), static_cast<double*>(tanh_c),
                          static_cast<double*>(h), B, H);
    default:
      LOOM_FAIL("lstm_pointwise_forward: the CPU backend supports float32 and float64, got ",
                dtype_name(dtype));
  }
}

void CpuBackend::lstm_pointwise_backward(const void* dh, void* dc, const void* act, void* d_pre,
                                         const void* c_prev, const void* tanh_c, DType dtype,
                                         int64_t B, int64_t H) {
  switch (dtype) {
    case DType::Float32:
      return backward_impl(static_cast<const float*>(dh), static_cast<float*>(dc),
                           static_cast<const float*>(act), static_cast<float*>(d_pre),
                           static_cast<const float*>(c_prev), static_cast<const float*>(tanh_c), B,
                           H);
    case DType::Float64:
      return backward_impl(static_cast<const double*>(dh), static_cast<double*>(dc),
                           static_cast<const double*>(act), static_cast<double*>(d_pre),
                           static_cast<const double*>(c_prev), static_cast<const double*>(tanh_c),
                           B, H);
    default:
      LOOM_FAIL("lstm_pointwise_backward: the CPU backend supports float32 and float64, got ",
                dtype_name(dtype));
  }
}

}  // namespace cpu
}  // namespace loom
