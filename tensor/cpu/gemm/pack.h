// tensor/cpu/gemm/pack.h: copying blocks of A and B into the panel layouts the micro-kernels
// read (microkernel.h); templates on the element type and the panel width (mr or nr).
//
// Why copy at all: a micro-kernel then reads A and B at unit stride, the same way whatever the
// operands' transposes and leading dimensions, and the copy (O(mk + kn)) is paid back over the
// O(mnk) multiply-adds that reread it from cache. Packing is also where the k values are grouped
// in pairs (bfloat16) or quads (8-bit) and where ragged edges are padded with zeros, so that the
// micro-kernel never tests a bound. A B panel is an A panel of the transposed operand,
// b[(g nr + j) G + e] = op(B)(g G + e, j) = op(B)^T(j, g G + e), so both go through pack_panels.
// The width is a template argument so that the compiler unrolls the loops across a panel.
// Leaves out: conversions (A and B are packed in their own element type).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "tensor/cpu/gemm/microkernel.h"

namespace loom::cpu::gemm {

// A read-only matrix whose element (i, j) is data[i * row_stride + j * col_stride]: op(A) or
// op(B) of a row-major operand, transposed or not, without copying it.
template <typename T>
struct MatrixView {
  const T* data;
  int64_t row_stride, col_stride;
  const T* at(int64_t i, int64_t j) const { return data + i * row_stride + j * col_stride; }
};

// Elements of the packed copy of `rows` x `depth` values in panels of `width`: whole panels,
// depth rounded up to whole k groups.
template <typename T>
int64_t packed_size(int64_t rows, int64_t depth, int width) {
  constexpr int G = kGroup<T>;
  return (rows + width - 1) / width * width * ((depth + G - 1) / G * G);
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "packing builds little-endian words");

namespace detail {

// Groups [g0, g1) of one panel, value by value: rows past `rows` and k past `depth` are zeros.
// For any strides, and for the last, partial k group.
template <typename T, int W>
void copy_groups_padded(const MatrixView<T>& x, int rows, int64_t depth, int64_t g0, int64_t g1,
                        T* panel) {
  constexpr int G = kGroup<T>;
  for (int64_t g = g0; g < g1; ++g)
    for (int i = 0; i < W; ++i)
      for (int e = 0; e < G; ++e) {
        const int64_t kk = g * G + e;
        panel[(g * W + i) * G + e] = i < rows && kk < depth ? *x.at(i, kk) : T(0);
      }
}

// Groups [0, groups) of rows [0, rows) of a panel whose rows run along k (col_stride == 1):
// each k group of a row is one 32-bit word of the source, copied whole.
template <typename T, int W>
void copy_groups_along_k(const MatrixView<T>& x, int rows, int64_t groups, T* panel) {
  constexpr int G = kGroup<T>;
  for (int64_t g = 0; g < groups; ++g)
#pragma GCC unroll 32
    for (int i = 0; i < W; ++i) {
      if (i == rows) break;
      std::memcpy(panel + (g * W + i) * G, x.at(i, g * G), G * sizeof(T));
    }
}

// Groups [0, groups) of rows [0, rows) of a panel whose rows are adjacent (row_stride == 1):
// for each k, `rows` contiguous values. For G > 1 the G values of one k group of row i are
// assembled into one 32-bit word, the first k in the low bits (the panel's memory order on a
// little-endian CPU): a loop the compiler vectorises, where storing the values one by one, G
// apart, is ~8x slower.
template <typename T, int W>
void copy_groups_across(const MatrixView<T>& x, int rows, int64_t groups, T* panel) {
  constexpr int G = kGroup<T>;
  for (int64_t g = 0; g < groups; ++g) {
    const T* src = x.at(0, g * G);  // the group's k value e is row src + e * col_stride
    if constexpr (G == 1) {
      for (int i = 0; i < rows; ++i)
        panel[g * W + i] = src[i];
    } else {
      using Bits = std::make_unsigned_t<T>;
      for (int i = 0; i < rows; ++i) {
        uint32_t word = 0;
        for (int e = 0; e < G; ++e)
          word |= uint32_t{Bits(src[e * x.col_stride + i])} << (8 * sizeof(T) * e);
        std::memcpy(panel + (g * W + i) * G, &word, sizeof word);
      }
    }
  }
}

// Rows [0, rows) x k values [0, depth) of x in panels of W rows (microkernel.h's A layout).
template <typename T, int W>
void pack_panels(const MatrixView<T>& x, int64_t rows, int64_t depth, T* packed) {
  constexpr int G = kGroup<T>;
  const int64_t full_groups = depth / G, groups = (depth + G - 1) / G;
  for (int64_t r = 0; r < rows; r += W, packed += W * groups * G) {
    const MatrixView<T> panel{x.at(r, 0), x.row_stride, x.col_stride};
    const int panel_rows = static_cast<int>(std::min<int64_t>(W, rows - r));
    if (panel_rows < W)  // the ragged last panel: zeros in the rows past the matrix
      std::memset(static_cast<void*>(packed), 0, sizeof(T) * W * groups * G);
    if (x.col_stride == 1)
      copy_groups_along_k<T, W>(panel, panel_rows, full_groups, packed);
    else if (x.row_stride == 1 && panel_rows == W)  // W as a constant: loops of known length
      copy_groups_across<T, W>(panel, W, full_groups, packed);
    else if (x.row_stride == 1)
      copy_groups_across<T, W>(panel, panel_rows, full_groups, packed);
    else
      copy_groups_padded<T, W>(panel, panel_rows, depth, 0, full_groups, packed);
    copy_groups_padded<T, W>(panel, panel_rows, depth, full_groups, groups, packed);
  }
}

}  // namespace detail

// Rows [row0, row0 + rows) and k values [k0, k0 + depth) of op(A) (a view of m x k) into
// ceil(rows / MR) panels of MR rows, one after the other, in the A layout of microkernel.h.
template <typename T, int MR>
void pack_a(const MatrixView<T>& a, int64_t row0, int64_t rows, int64_t k0, int64_t depth,
            T* packed) {
  detail::pack_panels<T, MR>({a.at(row0, k0), a.row_stride, a.col_stride}, rows, depth, packed);
}

// Columns [col0, col0 + cols) and k values [k0, k0 + depth) of op(B) (a view of k x n) into
// ceil(cols / NR) panels of NR columns in the B layout of microkernel.h.
template <typename T, int NR>
void pack_b(const MatrixView<T>& b, int64_t col0, int64_t cols, int64_t k0, int64_t depth,
            T* packed) {
  detail::pack_panels<T, NR>({b.at(k0, col0), b.col_stride, b.row_stride}, cols, depth, packed);
}

}  // namespace loom::cpu::gemm
