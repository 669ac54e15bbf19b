// cuda/kernels/kernel_util.cuh: what every launcher of the backend shares: DType -> C++ type
// dispatch (dispatch_dtype, dispatch_word, dispatch_enum), the stream ops enqueue on
// (op_stream), and ErrorSlot, the device word through which a kernel reports bad input (an
// out-of-range index, an integer division by zero) so the launcher can throw a loom::Error.
// Internal to cuda/. Packs and compute types: kernel_types.h and kernel_convert.cuh.
//
// Leaves out: int8 and uint8 arithmetic (int8 inference runs on the CPU; copies move them).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <type_traits>

#include "cuda/kernels/kernel_convert.cuh"
#include "cuda/kernels/kernel_types.h"
#include "cuda/runtime/allocator.cuh"
#include "cuda/runtime/check.cuh"
#include "cuda/runtime/stream.cuh"
#include "cuda/runtime/sync_debug.h"
#include "tensor/dtype.h"
#include "tensor/error.h"

namespace loom::cuda {

template <typename T>
struct TypeTag {
  using type = T;
};

// Calls f(TypeTag<T>{}) with the device element type of `dtype`.
template <typename F>
decltype(auto) dispatch_dtype(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float64:
      return f(TypeTag<double>{});
    case DType::Float32:
      return f(TypeTag<float>{});
    case DType::Float16:
      return f(TypeTag<__half>{});
    case DType::BFloat16:
      return f(TypeTag<__nv_bfloat16>{});
    case DType::Int32:
      return f(TypeTag<int32_t>{});
    case DType::Int64:
      return f(TypeTag<int64_t>{});
    case DType::Bool:
      return f(TypeTag<bool>{});
    case DType::Int8:
    case DType::UInt8:
      // The CPU has these (int8 inference); no CUDA arithmetic kernel is compiled for them.
      LOOM_FAIL(op, ": the CUDA backend has no ", dtype_name(dtype),
                " kernels (int8 and uint8 arithmetic runs on the CPU)");
  }
  LOOM_FAIL(op, ": unknown dtype ", static_cast<int>(dtype));
}

// Calls f(TypeTag<W>{}) with an unsigned word as wide as one element of `dtype`: for kernels
// that only move bytes (copies, gathers), so they are compiled 4 times, not 6.
template <typename F>
decltype(auto) dispatch_word(DType dtype, const char* op, F&& f) {
  switch (dtype_size(dtype)) {
    case 1:
      return f(TypeTag<uint8_t>{});
    case 2:
      return f(TypeTag<uint16_t>{});
    case 4:
      return f(TypeTag<uint32_t>{});
    case 8:
      return f(TypeTag<uint64_t>{});
  }
  LOOM_FAIL(op, ": unsupported element size ", dtype_size(dtype));
}

// Calls f(std::integral_constant<E, V>{}) for the V in Vs equal to v, so a runtime op enum
// becomes a template argument (one kernel instantiation per op, no switch inside the kernel).
template <typename E, E... Vs, typename F>
void dispatch_enum(E v, F&& f) {
  const bool found = ((v == Vs ? (f(std::integral_constant<E, Vs>{}), true) : false) || ...);
  LOOM_CHECK(found, "dispatch_enum: unknown op ", static_cast<int>(v));
}

// Compute<__half> and Compute<__nv_bfloat16> (float), kIsFloat, to_compute and to_out (rounding
// to nearest even) are in cuda/kernels/kernel_convert.cuh, which the CPU emulation tests compile
// too.

// Pack<T, N> and kPackOf<T> (16-byte vector accesses) are in cuda/kernels/kernel_types.h.

inline bool is_aligned(const void* p, std::size_t bytes) {
  return reinterpret_cast<std::uintptr_t>(p) % bytes == 0;
}

// The stream every backend method enqueues on: this thread's current stream of the current
// device. Throws when there is no usable device.
inline cudaStream_t op_stream() {
  return current_stream(-1);
}

// A device word through which kernels report the smallest position of a bad input they met:
//
//   ErrorSlot slot(stream);                          // holds "none"
//   check_kernel<<<...>>>(..., slot.get());          // atomicMin(slot, position) on bad input
//   if (int64_t pos = slot.read("op", "reading its check back"); pos >= 0) LOOM_FAIL(...);
//
// read() copies the word back and synchronizes the stream (the price of a clear error; counted
// as an implicit host sync, cuda/runtime/sync_debug.h, described by its arguments); it returns -1
// when nothing was reported, or when the stream is being captured into a graph.
class ErrorSlot {
 public:
  static constexpr unsigned long long kNone = ~0ull;

  explicit ErrorSlot(cudaStream_t stream)
      : stream_(stream), buffer_(sizeof(unsigned long long), -1, stream) {
    LOOM_CUDA_CHECK(cudaMemsetAsync(buffer_.data(), 0xFF, sizeof(unsigned long long), stream));
  }
  unsigned long long* get() const { return buffer_.as<unsigned long long>(); }
  int64_t read(const char* op, const char* why) const {
    if (is_capturing(stream_)) return -1;
    note_host_sync(op, why);
    unsigned long long value = kNone;
    LOOM_CUDA_CHECK(cudaMemcpyAsync(&value, get(), sizeof value, cudaMemcpyDeviceToHost, stream_));
    LOOM_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return value == kNone ? -1 : static_cast<int64_t>(value);
  }

 private:
  cudaStream_t stream_;
  DeviceBuffer buffer_;
};

}  // namespace loom::cuda
