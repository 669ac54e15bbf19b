// tensor/cpu/copy_cast.cpp: fill, strided gather/scatter (compact, strided_write) and cast.
//
// compact and strided_write only move bytes, so they are written per element size (1, 2, 4,
// 8 bytes) rather than per dtype. A cast converts through the compute types (float for float16
// and bfloat16): float to bfloat16 rounds to nearest even; float64 to bfloat16 rounds twice
// (to float, then to bfloat16), which gives the nearest bfloat16 all the same because float
// keeps 24 significand bits, more than 2 x 8 + 2 (double rounding is innocuous then).
#include <cstring>

#include "tensor/cpu/backend.h"
#include "tensor/cpu/dtype_dispatch.h"

namespace loom::cpu {
namespace {

// Calls f(element_index_in_dense_order, element_offset_in_view) for every element of `l`,
// walking the view like an odometer (last dim fastest).
template <typename F>
void for_each_strided(const StridedLayout& l, F&& f) {
  int64_t total = 1;
  for (int d = 0; d < l.ndim; ++d)
    total *= l.sizes[d];
  if (total == 0) return;
  int64_t idx[kMaxDims] = {};
  int64_t off = l.offset;
  const int last = l.ndim - 1;
  for (int64_t i = 0; i < total; ++i) {
    f(i, off);
    // Advance the odometer.
    for (int d = last; d >= 0; --d) {
      if (++idx[d] < l.sizes[d]) {
        off += l.strides[d];
        break;
      }
      off -= l.strides[d] * (l.sizes[d] - 1);
      idx[d] = 0;
    }
  }
}

// When the view's last dim is contiguous (stride 1), whole rows move with one memcpy each instead
// of element by element: the common views (a batch-first sequence read time-major, a bias row
// broadcast over a batch) are of this kind.
bool rows_are_contiguous(const StridedLayout& l) {
  return l.ndim >= 1 && l.strides[l.ndim - 1] == 1 && l.sizes[l.ndim - 1] > 1;
}

// The layout of the rows' starts: `l` without its last dim.
StridedLayout row_starts(const StridedLayout& l) {
  StridedLayout r = l;
  r.ndim = l.ndim - 1;
  return r;
}

template <typename W>
void gather(const W* src, const StridedLayout& l, W* dst) {
  if (rows_are_contiguous(l)) {
    const int64_t n = l.sizes[l.ndim - 1];
    for_each_strided(row_starts(l), [&](int64_t i, int64_t off) {
      std::memcpy(dst + i * n, src + off, static_cast<std::size_t>(n) * sizeof(W));
    });
    return;
  }
  for_each_strided(l, [&](int64_t i, int64_t off) { dst[i] = src[off]; });
}
template <typename W>
void scatter(const W* src, W* dst, const StridedLayout& l) {
  if (rows_are_contiguous(l)) {
    const int64_t n = l.sizes[l.ndim - 1];
    for_each_strided(row_starts(l), [&](int64_t i, int64_t off) {
      std::memmove(dst + off, src + i * n, static_cast<std::size_t>(n) * sizeof(W));
    });
    return;
  }
  for_each_strided(l, [&](int64_t i, int64_t off) { dst[off] = src[i]; });
}

// Runs f with a word type of the dtype's size.
template <typename F>
void by_size(DType dtype, F&& f) {
  switch (dtype_size(dtype)) {
    case 1:
      return f(uint8_t{});
    case 2:
      return f(uint16_t{});
    case 4:
      return f(uint32_t{});
    case 8:
      return f(uint64_t{});
  }
  LOOM_FAIL("cpu: unsupported element size ", dtype_size(dtype));
}

// One value (in a compute type) to D. A floating value into int8 or uint8 truncates toward zero
// and wraps modulo 256, as PyTorch does, instead of the undefined behaviour of a float-to-integer
// conversion out of the type's range (for finite values within int64's range).
template <typename D, typename V>
D convert(V v) {
  if constexpr (std::is_same_v<D, bool>) {
    return v != V(0);
  } else if constexpr (std::is_integral_v<D> && sizeof(D) == 1 && !std::is_integral_v<V>) {
    return static_cast<D>(static_cast<int64_t>(v));
  } else {
    return static_cast<D>(static_cast<ComputeT<D>>(v));
  }
}

}  // namespace

void CpuBackend::fill(void* dst, DType dtype, int64_t n, double value) {
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(dst);
    const T v = convert<T>(value);
    for (int64_t i = 0; i < n; ++i)
      p[i] = v;
  });
}

void CpuBackend::compact(const void* src, const StridedLayout& l, void* dst, DType dtype) {
  by_size(dtype, [&](auto word) {
    using W = decltype(word);
    gather(static_cast<const W*>(src), l, static_cast<W*>(dst));
  });
}

void CpuBackend::strided_write(const void* src, void* dst, const StridedLayout& l, DType dtype) {
  by_size(dtype, [&](auto word) {
    using W = decltype(word);
    scatter(static_cast<const W*>(src), static_cast<W*>(dst), l);
  });
}

void CpuBackend::cast(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n) {
  if (src_dtype == dst_dtype) {
    std::memcpy(dst, src, n * dtype_size(src_dtype));
    return;
  }
  dispatch_dtype(src_dtype, [&](auto stag) {
    using S = typename decltype(stag)::type;
    dispatch_dtype(dst_dtype, [&](auto dtag) {
      using D = typename decltype(dtag)::type;
      const S* s = static_cast<const S*>(src);
      D* d = static_cast<D*>(dst);
      for (int64_t i = 0; i < n; ++i) {
        // Go through the compute type (float for half) so every pair converts.
        d[i] = convert<D>(static_cast<ComputeT<S>>(s[i]));
      }
    });
  });
}

}  // namespace loom::cpu
