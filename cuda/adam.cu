// cuda/adam.cu: Adam/AdamW for every parameter of a model in one kernel launch
// (Backend::adam_step; CPU twin: tensor/cpu/cpu_adam.cpp; caller: nn/optim/adam.cpp).
//
// An Adam step reads 4 and writes 3 numbers per parameter element and does ~15 flops on them:
// memory bound, and for a small model dominated by launch latency. Written with tensor ops it is
// about 15 kernels per parameter tensor (the IMDB model has 7 tensors: ~100 launches and as
// many temporaries); here it is ONE launch for all of them, reading each element once.
//
// ---- the multi-tensor launch --------------------------------------------------------------
// The parameters are separate allocations, so the kernel needs each one's (p, g, m, v, step,
// count). As in cuda/amp.cu the table goes BY VALUE as a kernel argument (AdamTable, ~2.7 KB of
// the 4 KB parameter space): no device descriptor array, no host-to-device copy, nothing a CUDA
// Graph capture has to keep alive. Capacity: kMaxParams (48) parameters per launch; a model with
// more gets one launch per 48 (still no synchronisation).
// The buffers are cut into tiles of kTile (1024) elements and each block walks tiles with a
// grid-stride loop, finding a tile's parameter by binary search (cuda/multi_tensor.cuh's TileMap,
// shared with amp.cu). A full tile whose four pointers are 16-byte
// aligned is done with 16-byte loads and stores (a float4, or two doubles, per access; tiles
// start at multiples of 1024 elements, so the base pointers decide); the last, partial tile of
// each parameter, and unaligned buffers, take the scalar loop. The per-element update is
// tensor/kernels/adam_update.h's, the function the CPU loop calls, in the same type.
//
// ---- the step count and found_inf, on the device --------------------------------------------
// The bias corrections depend on t. Passing t from the host would bake it into a captured CUDA
// Graph, and with the loss scaler the host does not even know it (a skipped step does not count,
// and the skip is decided on the device). So each parameter's count is an int64 on the device;
// the kernel reads t = *step + 1, and one thread of the block computes step_size = lr / (1 -
// beta1^t) and sqrt(1 - beta2^t) in double (exactly the CPU's expressions) into shared memory
// when the block moves to another parameter (kernels::adam_constants, as the CPU).
// Advancing the counters cannot happen inside that launch: a grid has no barrier, so a block
// that incremented *step could run before another block of the same parameter has read it. A
// second launch, one block of 64 threads on the same stream, does it after the update (stream
// order is the barrier). Both kernels first read *found_inf and return at once when it is set:
// a step the loss scaler skips writes nothing, counters included, and the host never reads the
// flag. So an optimizer step is 2 launches, whatever the number of parameters (up to 48).
//
// Left out: float16 parameters (master weights stay float32), amsgrad, a learning rate on the
// device (a scheduled lr changes the captured graph's argument; re-capture, or keep lr on the
// device in a later version), splitting the step of a single huge tensor differently from many
// small ones (the tile walk already balances them).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "cuda/check.cuh"
#include "cuda/cuda_backend.h"
#include "cuda/kernel_util.cuh"
#include "cuda/launch.cuh"
#include "cuda/multi_tensor.cuh"
#include "tensor/kernels/adam_update.h"

namespace loom::cuda {
namespace {

constexpr int kMaxParams = 48;  // parameters per launch: the table below is ~2.7 KB of arguments
constexpr int kBlock = 256;
constexpr int kPerThread = 4;                            // elements per thread per tile
constexpr int64_t kTile = int64_t{kBlock} * kPerThread;  // elements one block handles per step
constexpr int kStepThreads = 64;                         // the counter kernel: >= kMaxParams
static_assert(kStepThreads >= kMaxParams, "one thread per parameter's step counter");

// The step counters of one launch's parameters (what the counter kernel needs).
struct StepTable {
  int64_t* step[kMaxParams];
  int num;
};

// The launch's parameter table, passed by value. Parameter i has tiles.count[i] elements in
// p[i], g[i], m[i], v[i]; `tiles` says which tiles it owns (cuda/multi_tensor.cuh).
template <typename T>
struct AdamTable {
  T* p[kMaxParams];
  const T* g[kMaxParams];
  T* m[kMaxParams];
  T* v[kMaxParams];
  TileMap<kMaxParams, kTile> tiles;
  StepTable steps;
};
// Kernel arguments are limited to 4 KB (the table, the hyper-parameters and the flag pointer).
static_assert(sizeof(AdamTable<double>) + sizeof(Backend::AdamHyper) + sizeof(void*) <= 4096,
              "AdamTable must fit the 4 KB kernel parameter space");

using kernels::AdamConstants;

// ---- kernels -----------------------------------------------------------------------------

// Whether `ptr` is a multiple of Bytes (kernel_util.cuh's is_aligned, on the device).
template <std::size_t Bytes>
__device__ __forceinline__ bool aligned_to(const void* ptr) {
  return reinterpret_cast<std::uintptr_t>(ptr) % Bytes == 0;
}

template <typename T, bool Decoupled>
__global__ void __launch_bounds__(kBlock)
    adam_kernel(const AdamTable<T> table, const Backend::AdamHyper h, const float* found_inf) {
  // The loss scaler saw inf/NaN: skip the whole step. Every thread reads the same flag, so the
  // whole block returns (no thread is left waiting at a barrier below).
  if (found_inf != nullptr && *found_inf != 0.0f) return;
  __shared__ AdamConstants<T> shared_consts;
  constexpr int P = kPackOf<T>;  // elements per 16-byte access: 4 floats, 2 doubles
  static_assert(kPerThread % P == 0, "a thread's elements are whole packs");
  using Vec = Pack<T, P>;
  const int64_t tiles = table.tiles.tiles();
  int current = -1;  // the parameter whose constants are in shared_consts
  // The loop bound and `i` below are the same for every thread of a block, so all of them
  // reach the __syncthreads() calls.
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int i = table.tiles.owner(tile);
    if (i != current) {
      __syncthreads();  // every thread is done with the previous parameter's constants
      if (threadIdx.x == 0) {
        shared_consts = kernels::adam_constants<T>(h.lr, h.beta1, h.beta2, h.eps, h.weight_decay,
                                                   *table.steps.step[i] + 1);
      }
      __syncthreads();
      current = i;
    }
    const AdamConstants<T> c = shared_consts;
    T* p = table.p[i];
    const T* g = table.g[i];
    T* m = table.m[i];
    T* v = table.v[i];
    const int64_t begin = table.tiles.begin(i, tile), end = table.tiles.end(i, tile);
    const bool aligned = aligned_to<sizeof(Vec)>(p) && aligned_to<sizeof(Vec)>(g) &&
                         aligned_to<sizeof(Vec)>(m) && aligned_to<sizeof(Vec)>(v);
    if (aligned && end - begin == kTile) {
      // Pack j of thread x starts at element (j * kBlock + x) * P: consecutive threads touch
      // consecutive 16-byte words (coalesced).
#pragma unroll
      for (int j = 0; j < kPerThread / P; ++j) {
        const int64_t e = begin + (int64_t{j} * kBlock + threadIdx.x) * P;
        Vec pv = *reinterpret_cast<const Vec*>(p + e);
        const Vec gv = *reinterpret_cast<const Vec*>(g + e);
        Vec mv = *reinterpret_cast<const Vec*>(m + e);
        Vec vv = *reinterpret_cast<const Vec*>(v + e);
#pragma unroll
        for (int k = 0; k < P; ++k)
          kernels::adam_update<T, Decoupled>(pv.v[k], gv.v[k], mv.v[k], vv.v[k], c);
        *reinterpret_cast<Vec*>(p + e) = pv;
        *reinterpret_cast<Vec*>(m + e) = mv;
        *reinterpret_cast<Vec*>(v + e) = vv;
      }
    } else {
      for (int64_t e = begin + threadIdx.x; e < end; e += kBlock) {
        T pe = p[e], me = m[e], ve = v[e];
        kernels::adam_update<T, Decoupled>(pe, g[e], me, ve, c);
        p[e] = pe;
        m[e] = me;
        v[e] = ve;
      }
    }
  }
}

// Advances every counter of the launch by one, unless the step was skipped. Runs after
// adam_kernel on the same stream, so every block of that kernel has read the old values.
__global__ void advance_steps_kernel(const StepTable steps, const float* found_inf) {
  if (found_inf != nullptr && *found_inf != 0.0f) return;
  for (int i = threadIdx.x; i < steps.num; i += blockDim.x)
    ++*steps.step[i];
}

// ---- host launchers ----------------------------------------------------------------------

// Both launches for parameters params[0 .. n) (n <= kMaxParams).
template <typename T>
void launch_chunk(const Backend::AdamParam* params, int n, const Backend::AdamHyper& h,
                  const float* found_inf, cudaStream_t stream) {
  AdamTable<T> table{};
  table.steps.num = n;
  table.tiles.build(n, [&](int i) { return params[i].numel; });
  for (int i = 0; i < n; ++i) {
    table.p[i] = static_cast<T*>(params[i].param);
    table.g[i] = static_cast<const T*>(params[i].grad);
    table.m[i] = static_cast<T*>(params[i].exp_avg);
    table.v[i] = static_cast<T*>(params[i].exp_avg_sq);
    table.steps.step[i] = params[i].step;
  }
  const int64_t tiles = table.tiles.tiles();
  if (tiles > 0) {  // all parameters empty: nothing to update, but their steps still count
    // One block per tile, capped by the grid helper; the grid-stride loop covers the rest.
    const LaunchConfig cfg = launch_for(tiles * kBlock, kBlock, "adam_step");
    if (h.decoupled)
      adam_kernel<T, true><<<cfg.grid, cfg.block, 0, stream>>>(table, h, found_inf);
    else
      adam_kernel<T, false><<<cfg.grid, cfg.block, 0, stream>>>(table, h, found_inf);
    LOOM_CUDA_CHECK_LAUNCH();
  }
  advance_steps_kernel<<<1, kStepThreads, 0, stream>>>(table.steps, found_inf);
  LOOM_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::adam_step(const AdamParam* params, int num, DType dtype, const AdamHyper& h,
                            const float* found_inf) {
  check_adam_step_args(params, num, dtype);
  if (num == 0) return;
  const cudaStream_t stream = op_stream();
  for (int first = 0; first < num; first += kMaxParams) {
    const int n = std::min(kMaxParams, num - first);
    if (dtype == DType::Float32)
      launch_chunk<float>(params + first, n, h, found_inf, stream);
    else
      launch_chunk<double>(params + first, n, h, found_inf, stream);
  }
}

}  // namespace loom::cuda
