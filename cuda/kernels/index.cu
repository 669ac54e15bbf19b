// cuda/kernels/index.cu: index_select (gather rows) and index_add (scatter-add rows), the
// embedding lookup and its backward. CPU twin: tensor/cpu/index.cpp.
//
// Both see the tensor as [outer, rows, inner] and `index` (int64, K entries, on the device) picks
// rows. A check kernel records the first bad position and the launcher reads it back (an implicit
// host sync, skipped under graph capture) to throw the CPU's message; every kernel also skips
// out-of-range rows itself. index_add is deterministic by default (CUB sort, run-length encode,
// scan, then each segment summed in position order: the CPU's order, bit for bit) or atomic
// (set_deterministic(false): faster, order varies). Details: cuda/README.md, "index_add".
// The kernels are in index_kernels.cuh; this file keeps the launchers and the CUB calls.
//
// Leaves out: int32 indices (the frontend converts them), reusing one sort between forward and
// backward.
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_run_length_encode.cuh>
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <limits>

#include "cuda/kernels/backend.h"
#include "cuda/kernels/index_kernels.cuh"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/runtime/allocator.cuh"
#include "cuda/runtime/check.cuh"
#include "cuda/runtime/device.h"

namespace loom::cuda {
namespace {

using namespace index_kernels;  // the kernels of index_kernels.cuh

constexpr int kBlock = kDefaultBlockSize;

// ---- host launchers ----------------------------------------------------------------------

// Throws the CPU's message if some index is out of range (reads the check back: one implicit
// host sync, counted by cuda/runtime/sync_debug.h).
void check_index(const char* op, const int64_t* index, int64_t K, int64_t rows,
                 cudaStream_t stream) {
  ErrorSlot error(stream);
  const LaunchConfig cfg = launch_for(K, kBlock, op);
  check_index_kernel<<<cfg.grid, cfg.block, 0, stream>>>(index, K, rows, error.get());
  LOOM_CUDA_CHECK_LAUNCH();
  const int64_t bad = error.read(op, "reading its bounds check back");
  if (bad < 0) return;
  int64_t value = 0;
  LOOM_CUDA_CHECK(
      cudaMemcpyAsync(&value, index + bad, sizeof value, cudaMemcpyDeviceToHost, stream));
  LOOM_CUDA_CHECK(cudaStreamSynchronize(stream));
  LOOM_FAIL(op, ": index[", bad, "] = ", value, " is out of range for a dimension of size ", rows);
}

void check_sizes(const char* op, int64_t outer, int64_t rows, int64_t inner, int64_t K) {
  LOOM_CHECK(outer >= 0 && rows >= 0 && inner >= 0 && K >= 0, op, ": bad sizes outer ", outer,
             " rows ", rows, " inner ", inner, " K ", K);
}

// The number of low key bits the radix sort must look at for keys in [0, rows).
int key_bits(int64_t rows) {
  int bits = 1;
  while (bits < 63 && (int64_t{1} << bits) < rows)
    ++bits;
  return bits;
}

template <typename T>
void index_add_deterministic(T* dst, const int64_t* index, const T* src, int64_t outer,
                             int64_t rows, int64_t inner, int64_t K, cudaStream_t stream) {
  LOOM_CHECK(K <= std::numeric_limits<int>::max(), "index_add: ", K,
             " indices is more than the deterministic path handles (2^31 - 1); use "
             "cuda::set_deterministic(false)");
  const int n = static_cast<int>(K);
  const int device = current_device();
  DeviceBuffer positions(K * sizeof(int64_t), device, stream);
  DeviceBuffer sorted_keys(K * sizeof(int64_t), device, stream);
  DeviceBuffer sorted_positions(K * sizeof(int64_t), device, stream);
  DeviceBuffer unique_rows(K * sizeof(int64_t), device, stream);
  DeviceBuffer seg_count(K * sizeof(int), device, stream);
  DeviceBuffer seg_start(K * sizeof(int), device, stream);
  DeviceBuffer num_segments(sizeof(int), device, stream);

  // Counts past the real number of segments are never written by the encoder; zero them so
  // the scan below reads defined memory.
  LOOM_CUDA_CHECK(cudaMemsetAsync(seg_count.data(), 0, K * sizeof(int), stream));
  const LaunchConfig kcfg = launch_for(K, kBlock, "index_add");
  iota_kernel<<<kcfg.grid, kcfg.block, 0, stream>>>(positions.as<int64_t>(), K);
  LOOM_CUDA_CHECK_LAUNCH();

  // CUB's two-phase calls: ask each for its scratch size, then run all three in one buffer.
  const int end_bit = key_bits(rows);
  std::size_t sort_bytes = 0, encode_bytes = 0, scan_bytes = 0;
  LOOM_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, sort_bytes, index, sorted_keys.as<int64_t>(), positions.as<int64_t>(),
      sorted_positions.as<int64_t>(), n, 0, end_bit, stream));
  LOOM_CUDA_CHECK(cub::DeviceRunLengthEncode::Encode(
      nullptr, encode_bytes, sorted_keys.as<int64_t>(), unique_rows.as<int64_t>(),
      seg_count.as<int>(), num_segments.as<int>(), n, stream));
  LOOM_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, seg_count.as<int>(),
                                                seg_start.as<int>(), n, stream));
  std::size_t scratch_bytes = std::max({sort_bytes, encode_bytes, scan_bytes});
  DeviceBuffer scratch(scratch_bytes, device, stream);

  LOOM_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      scratch.data(), sort_bytes, index, sorted_keys.as<int64_t>(), positions.as<int64_t>(),
      sorted_positions.as<int64_t>(), n, 0, end_bit, stream));
  LOOM_CUDA_CHECK(cub::DeviceRunLengthEncode::Encode(
      scratch.data(), encode_bytes, sorted_keys.as<int64_t>(), unique_rows.as<int64_t>(),
      seg_count.as<int>(), num_segments.as<int>(), n, stream));
  LOOM_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(scratch.data(), scan_bytes, seg_count.as<int>(),
                                                seg_start.as<int>(), n, stream));

  const LaunchConfig cfg = launch_for(outer * K * inner, kBlock, "index_add");
  index_add_segments_kernel<T><<<cfg.grid, cfg.block, 0, stream>>>(
      dst, src, unique_rows.as<int64_t>(), seg_start.as<int>(), seg_count.as<int>(),
      num_segments.as<int>(), sorted_positions.as<int64_t>(), outer, rows, inner, K);
  LOOM_CUDA_CHECK_LAUNCH();
  // The buffers return to the cache here; they were allocated on `stream`, so the next user
  // on that stream runs after these kernels (see the allocator's stream rule).
}

}  // namespace

void CudaBackend::index_select(const void* src, const int64_t* index, void* out, DType dtype,
                               int64_t outer, int64_t rows, int64_t inner, int64_t K) {
  check_sizes("index_select", outer, rows, inner, K);
  if (K == 0) return;
  const cudaStream_t stream = op_stream();
  check_index("index_select", index, K, rows, stream);
  if (outer == 0 || inner == 0) return;
  dispatch_word(dtype, "index_select", [&](auto tag) {
    using W = typename decltype(tag)::type;
    const LaunchConfig cfg = launch_for(outer * K * inner, kBlock, "index_select");
    index_select_kernel<W><<<cfg.grid, cfg.block, 0, stream>>>(
        static_cast<const W*>(src), index, static_cast<W*>(out), outer, rows, inner, K);
    LOOM_CUDA_CHECK_LAUNCH();
  });
}

void CudaBackend::index_add(void* dst, const int64_t* index, const void* src, DType dtype,
                            int64_t outer, int64_t rows, int64_t inner, int64_t K) {
  check_sizes("index_add", outer, rows, inner, K);
  LOOM_CHECK(dtype != DType::Bool, "index_add: not supported for bool tensors");
  if (K == 0) return;
  const cudaStream_t stream = op_stream();
  check_index("index_add", index, K, rows, stream);
  if (outer == 0 || inner == 0) return;
  dispatch_dtype(dtype, "index_add", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, bool>) {
      T* d = static_cast<T*>(dst);
      const T* s = static_cast<const T*>(src);
      if (deterministic()) {
        index_add_deterministic<T>(d, index, s, outer, rows, inner, K, stream);
      } else {
        const LaunchConfig cfg = launch_for(outer * K * inner, kBlock, "index_add");
        index_add_atomic_kernel<T>
            <<<cfg.grid, cfg.block, 0, stream>>>(d, index, s, outer, rows, inner, K);
        LOOM_CUDA_CHECK_LAUNCH();
      }
    }
  });
}

}  // namespace loom::cuda
