// tensor/cpu/gemm/microkernel.h: the packed layouts and the contract every micro-kernel keeps.
//
// A micro-kernel multiplies one packed panel of A (mr rows) by one packed panel of B (nr
// columns) over `k_groups` groups of k and updates an mr x nr tile of C. Each element type packs
// kGroup<T> consecutive k values into one 32-bit lane, the unit the dot-product instructions
// consume: float 1 (VFMADD), bfloat16 2 (VDPBF16PS), 8-bit integers 4 (VPDPBUSD). Packed:
//   A panel: a[(g * mr + i) * G + e] = op(A)(i, g * G + e)   (g: k group, i: row, e: in-group)
//   B panel: b[(g * nr + j) * G + e] = op(B)(g * G + e, j)   (j: column)
// Rows, columns and k values past the matrix are zeros in the panels.
// Leaves out: how the panels are made (pack.h) and how tiles are scheduled (gemm.cpp).
#pragma once

#include <cstdint>

namespace loom::cpu::gemm {

// k values per 32-bit lane: 1 for float, 2 for bfloat16 bits (uint16_t), 4 for uint8/int8.
template <typename T>
constexpr int kGroup = static_cast<int>(4 / sizeof(T));

// The tile of C a kernel updates: rows [0, rows) x columns [0, cols) of c (element (i, j) at
// c[i * ldc + j]), 1 <= rows <= mr and 1 <= cols <= nr; nothing outside it is read or written,
// so the same kernel serves C's ragged edges.
template <typename TC>
struct CTile {
  TC* c;
  int64_t ldc;
  int rows, cols;
  TC alpha, beta;
};

// The contract, for TC float (the fp32 and bf16 kernels) and int32_t (the u8 x s8 kernel):
//   t(i, j) = sum over k of A(i, k) B(k, j), in increasing k, starting from +0:
//     float:    one fused multiply-add per k (std::fma);
//     bfloat16: per pair, the odd element first: t = fma(a1, b1, t); t = fma(a0, b0, t)
//               (VDPBF16PS's order; a product of two bfloat16 values is exact in float);
//     u8 x s8:  the four products of a quad added to t, wrapping modulo 2^32 (VPDPBUSD).
//   then C(i, j) = alpha * t                       when beta == 0 (C is not read)
//        C(i, j) = fma(alpha, t, beta * C(i, j))   otherwise (int32: alpha t + beta C, wrapping).
// So every kernel of one element type gives the same bits for the same panels, and a tile's
// values never depend on which thread computes it or where the tile's edges are.
template <typename TA, typename TB, typename TC>
using MicroKernelFn = void (*)(int64_t k_groups, const TA* a, const TB* b, const CTile<TC>& tile);

// The same kernel reading a whole panel of A where it is stored, not packed: mr rows lda
// elements apart, each row's k values adjacent (op(A) = A, col_stride 1), whole k groups. It
// gives the bits of `run` on that panel packed: the same values, summed in the same order. The
// driver then skips packing A (gemm.cpp): an LSTM step's A (h or dL/dgates of its rows) is used
// by one product only, so its packing is paid back by nothing.
template <typename TA, typename TB, typename TC>
using InPlaceAKernelFn = void (*)(int64_t k_groups, const TA* a, int64_t lda, const TB* b,
                                  const CTile<TC>& tile);

// Packs `count` rows of op(A) (or columns of op(B)) from `first`, k values [k0, k0 + depth),
// into the layout above: pack_a<T, mr> and pack_b<T, nr> of pack.h.
template <typename T>
struct MatrixView;
template <typename T>
using PackFn = void (*)(const MatrixView<T>& x, int64_t first, int64_t count, int64_t k0,
                        int64_t depth, T* packed);

template <typename TA, typename TB, typename TC>
struct MicroKernel {
  const char* name;  // e.g. "avx512 fp32 10x32"
  int mr, nr;        // the register block: rows of A, columns of B
  MicroKernelFn<TA, TB, TC> run;
  MicroKernelFn<TA, TB, TC> reference;  // the scalar twin with the same mr, nr (for the tests)
  PackFn<TA> pack_a;                    // into panels of mr rows
  PackFn<TB> pack_b;                    // into panels of nr columns
  InPlaceAKernelFn<TA, TB, TC> run_a_in_place = nullptr;  // optional: A not packed
};

using KernelF32 = MicroKernel<float, float, float>;
using KernelBf16 = MicroKernel<uint16_t, uint16_t, float>;  // bfloat16 as its 16 bits
using KernelU8S8 = MicroKernel<uint8_t, int8_t, int32_t>;

}  // namespace loom::cpu::gemm
