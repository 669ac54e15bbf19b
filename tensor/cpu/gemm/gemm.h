// tensor/cpu/gemm/gemm.h: the packed GEMM, C = alpha op(A) op(B) + beta C, in fp32, bf16 x bf16
// -> fp32 and u8 x s8 -> s32, on the micro-kernel this CPU runs best (kernels.h).
//
// The arguments follow tensor/backend.h's MatmulArgs: row-major matrices, op(A) m x k stored
// [m, k] (or [k, m] when trans_a) with leading dimension lda, op(B) k x n stored [k, n] (or
// [n, k]), C [m, n] with ldc >= n; `batch` products `stride_*` elements apart. beta == 0 means C
// is not read (it may hold NaNs). A and B must not overlap C.
// Determinism: every element of C is the same bits whatever the thread count
// (loom::set_num_threads) and whatever the kernel level of the same element type (tasks.h,
// microkernel.h). Threads: OpenMP over tasks; inside a parallel region, one thread.
// Bad arguments (negative sizes, leading dimensions too small, a non-integer alpha or beta for
// u8 x s8) throw loom::Error naming the function and the argument.
// A B used by many products (an LSTM's W_hh at every step) can be packed once: pack_b_bf16 or
// pack_b_u8s8, then gemm_bf16_packed or gemm_u8s8_packed (the same bits as without).
// Leaves out: batched products run one after another (threads split each product).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "tensor/backend.h"

namespace loom::cpu::gemm {

void gemm_f32(const float* a, const float* b, float* c, const MatmulArgs& args);
// A and B hold bfloat16 bit patterns (bf16_bits.h); products and sums in float32.
void gemm_bf16(const uint16_t* a, const uint16_t* b, float* c, const MatmulArgs& args);
// A unsigned, B signed 8-bit; sums in int32, wrapping modulo 2^32 (VPDPBUSD). alpha and beta
// must be integers in int32's range.
void gemm_u8s8(const uint8_t* a, const int8_t* b, int32_t* c, const MatmulArgs& args);

// The rows of C one call of this CPU's bf16 micro-kernel computes (its mr). A caller that splits
// rows over threads cuts at multiples of it, so that no thread runs a tile it could have filled.
int bf16_tile_rows();

// op(B) (k x n) in the panels of the kernel this CPU runs, block by block in the driver's order
// (gemm.cpp), packed once and kept: for a B that many products share (a layer's weights, an
// LSTM's W_hh at every step), so that each product skips packing it.
// Its panels start on a cache line, as the driver's own packing space does: a micro-kernel's
// 64-byte loads of B then never straddle two lines.
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{64}));
  }
  void deallocate(T* p, std::size_t) { ::operator delete (p, std::align_val_t{64}); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const CacheLineAllocator<U>&) const {
    return false;
  }
};

template <typename T>
struct PackedB {
  int64_t k = 0, n = 0;
  const void* kernel = nullptr;  // the micro-kernel it was packed for (checked at use)
  std::vector<T, CacheLineAllocator<T>> panels;
};
using PackedU8S8B = PackedB<int8_t>;
using PackedBf16B = PackedB<uint16_t>;

// Packs op(B) as args describes it (k, n, trans_b, ldb; m, A and C are not used) into `out`,
// reusing its memory.
void pack_b_u8s8(const int8_t* b, const MatmulArgs& args, PackedU8S8B& out);
void pack_b_bf16(const uint16_t* b, const MatmulArgs& args, PackedBf16B& out);
// The GEMM with B already packed: the same bits as without. args.k and args.n must be the packed
// B's (ldb, trans_b and stride_b are ignored; batch must be 1).
void gemm_u8s8_packed(const uint8_t* a, const PackedU8S8B& b, int32_t* c, const MatmulArgs& args);
void gemm_bf16_packed(const uint16_t* a, const PackedBf16B& b, float* c, const MatmulArgs& args);

}  // namespace loom::cpu::gemm
