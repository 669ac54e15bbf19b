// tensor/cpu/index.cpp: index_select (gather slices) and index_add (scatter-add slices).
//
// Both see the tensor as [outer, rows, inner] with the indexed dim in the middle; an
// embedding lookup is index_select with outer = 1. Indices are checked here (only the
// kernel reads them) and an out-of-range one throws naming the position and value.
#include "tensor/cpu/backend.h"
#include "tensor/cpu/dtype_dispatch.h"

namespace loom::cpu {
namespace {

void check_index(const char* op, const int64_t* index, int64_t K, int64_t rows) {
  for (int64_t k = 0; k < K; ++k) {
    LOOM_CHECK(index[k] >= 0 && index[k] < rows, op, ": index[", k, "] = ", index[k],
               " is out of range for a dimension of size ", rows);
  }
}

}  // namespace

void CpuBackend::index_select(const void* src, const int64_t* index, void* out, DType dtype,
                              int64_t outer, int64_t rows, int64_t inner, int64_t K) {
  check_index("index_select", index, K, rows);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* s = static_cast<const T*>(src);
    T* o = static_cast<T*>(out);
    for (int64_t a = 0; a < outer; ++a)
      for (int64_t k = 0; k < K; ++k) {
        const T* from = s + (a * rows + index[k]) * inner;
        T* to = o + (a * K + k) * inner;
        std::copy(from, from + inner, to);
      }
  });
}

void CpuBackend::index_add(void* dst, const int64_t* index, const void* src, DType dtype,
                           int64_t outer, int64_t rows, int64_t inner, int64_t K) {
  check_index("index_add", index, K, rows);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      LOOM_FAIL("index_add: not supported for bool tensors");
    } else {
      using C = ComputeT<T>;
      T* d = static_cast<T*>(dst);
      const T* s = static_cast<const T*>(src);
      for (int64_t a = 0; a < outer; ++a)
        for (int64_t k = 0; k < K; ++k) {
          T* to = d + (a * rows + index[k]) * inner;
          const T* from = s + (a * K + k) * inner;
          for (int64_t i = 0; i < inner; ++i)
            to[i] = static_cast<T>(static_cast<C>(to[i]) + static_cast<C>(from[i]));
        }
    }
  });
}

}  // namespace loom::cpu
