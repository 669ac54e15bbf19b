// cuda/lstm.cu: the fused LSTM cell's pointwise step on the GPU. CPU twin: tensor/cpu/cpu_lstm.cpp.
//
// After the GEMMs of one timestep, an LSTM cell is independent per (batch row b, hidden unit j):
// four gate pre-activations and c_{t-1} in, the activations, c_t, tanh(c_t) and h_t out (and
// the reverse for backward). So both kernels run one thread per (b, j), B*H threads walked with
// the shared grid-stride loop, and each thread calls the per-element functions of
// tensor/kernels/lstm_pointwise.h — the very code the CPU loop runs, so the two backends cannot
// drift apart; nothing here re-derives the math.
//
// Memory: thread t = b*H + j reads gate k at row b, column k*H + j, so consecutive threads read
// consecutive addresses within each of the four gate blocks of a row: four coalesced streams.
//
// Aliasing (tensor/backend.h's contract): forward writes the activations over the
// pre-activations (gates is in and out); backward may write d_pre over act and updates dc in
// place. A thread reads all of its own elements before writing them and no two threads touch the
// same element, so this is safe — and it is why no pointer here is __restrict__.
//
// dtypes: float32 and float64 compute in their own type; float16 is stored as __half and computed
// in float (one rounding per stored value), a GPU-only path the CPU backend does not offer.
//
// The kernels are in cuda/lstm_kernels.cuh, which uses so little of CUDA that
// tests/cuda/lstm_kernels_emulation_test.cpp runs them on the CPU; this file keeps the
// launchers.
//
// Left out: a vectorized (__half2 / float4) variant — with B = H = 100 a step is 10k threads and
// the kernel is launch-latency bound, not bandwidth bound; fusing the pointwise step into the
// recurrent GEMM's epilogue (that is the persistent kernel's job, issue 6 item 3c).
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include "cuda/check.cuh"
#include "cuda/cuda_backend.h"
#include "cuda/kernel_util.cuh"
#include "cuda/launch.cuh"
#include "cuda/lstm_kernels.cuh"

namespace loom::cuda {
namespace {

using namespace lstm_cell;  // the kernels of cuda/lstm_kernels.cuh

// ---- host launchers ----------------------------------------------------------------------

void check_sizes(const char* op, DType dtype, int64_t B, int64_t H) {
  LOOM_CHECK(B >= 0 && H >= 0, op, ": bad sizes B ", B, " H ", H);
  LOOM_CHECK(dtype == DType::Float32 || dtype == DType::Float64 || dtype == DType::Float16, op,
             " on cuda: supports float32, float64 and float16, got ", dtype_name(dtype));
}

}  // namespace

void CudaBackend::lstm_pointwise_forward(void* gates, const void* c_prev, void* c, void* tanh_c,
                                         void* h, DType dtype, int64_t B, int64_t H) {
  check_sizes("lstm_pointwise_forward", dtype, B, H);
  LOOM_CHECK(c != c_prev || B * H == 0,
             "lstm_pointwise_forward: c may not alias c_prev (tensor/backend.h)");
  if (B * H == 0) return;
  const cudaStream_t stream = op_stream();
  const LaunchConfig cfg = launch_for(B * H, kDefaultBlockSize, "lstm_pointwise_forward");
  dispatch_dtype(dtype, "lstm_pointwise_forward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsFloat<T>) {
      lstm_forward_kernel<T><<<cfg.grid, cfg.block, 0, stream>>>(
          static_cast<T*>(gates), static_cast<const T*>(c_prev), static_cast<T*>(c),
          static_cast<T*>(tanh_c), static_cast<T*>(h), B, H);
      LOOM_CUDA_CHECK_LAUNCH();
    }
  });
}

void CudaBackend::lstm_pointwise_backward(const void* dh, void* dc, const void* act, void* d_pre,
                                          const void* c_prev, const void* tanh_c, DType dtype,
                                          int64_t B, int64_t H) {
  check_sizes("lstm_pointwise_backward", dtype, B, H);
  if (B * H == 0) return;
  const cudaStream_t stream = op_stream();
  const LaunchConfig cfg = launch_for(B * H, kDefaultBlockSize, "lstm_pointwise_backward");
  dispatch_dtype(dtype, "lstm_pointwise_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsFloat<T>) {
      lstm_backward_kernel<T><<<cfg.grid, cfg.block, 0, stream>>>(
          static_cast<const T*>(dh), static_cast<T*>(dc), static_cast<const T*>(act),
          static_cast<T*>(d_pre), static_cast<const T*>(c_prev), static_cast<const T*>(tanh_c), B,
          H);
      LOOM_CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace loom::cuda
