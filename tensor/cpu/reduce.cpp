// tensor/cpu/reduce.cpp: sum / max / min / argmax over the middle axis of [outer, n, inner].
//
// Every "reduce along dim d" becomes this one kernel: outer = product of the sizes before d,
// inner = product after. Sums accumulate in ComputeT (float for float16 and float32, double
// for float64, the type itself for integers), as the CUDA backend does.
#include <vector>

#include "tensor/cpu/backend.h"
#include "tensor/cpu/dtype_dispatch.h"

namespace loom::cpu {
namespace {

template <typename T>
void reduce_impl(ReduceOp op, const T* x, void* outp, int64_t outer, int64_t n, int64_t inner) {
  using C = ComputeT<T>;
  std::vector<C> acc(inner);
  std::vector<int64_t> arg(inner);
  for (int64_t o = 0; o < outer; ++o) {
    const T* base = x + o * n * inner;
    for (int64_t i = 0; i < inner; ++i) {
      acc[i] = op == ReduceOp::Sum ? C(0) : static_cast<C>(base[i]);
      arg[i] = 0;
    }
    // j = 0 was used as the initial value for max/min/argmax.
    for (int64_t j = op == ReduceOp::Sum ? 0 : 1; j < n; ++j) {
      const T* row = base + j * inner;
      for (int64_t i = 0; i < inner; ++i) {
        const C v = static_cast<C>(row[i]);
        switch (op) {
          case ReduceOp::Sum:
            acc[i] += v;
            break;
          case ReduceOp::Max:
          case ReduceOp::ArgMax:
            if (v > acc[i]) {
              acc[i] = v;
              arg[i] = j;
            }
            break;
          case ReduceOp::Min:
            if (v < acc[i]) acc[i] = v;
            break;
          case ReduceOp::kCount:  // not an op
            break;
        }
      }
    }
    if (op == ReduceOp::ArgMax) {
      int64_t* out = static_cast<int64_t*>(outp) + o * inner;
      for (int64_t i = 0; i < inner; ++i)
        out[i] = arg[i];
    } else {
      T* out = static_cast<T*>(outp) + o * inner;
      for (int64_t i = 0; i < inner; ++i)
        out[i] = static_cast<T>(acc[i]);
    }
  }
}

}  // namespace

void CpuBackend::reduce(ReduceOp op, const void* x, void* out, DType dtype, int64_t outer,
                        int64_t n, int64_t inner) {
  LOOM_CHECK(n >= 1, "reduce: cannot reduce an empty axis");
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      LOOM_FAIL("reduce: not supported for bool tensors (cast to int64 first)");
    } else {
      reduce_impl<T>(op, static_cast<const T*>(x), out, outer, n, inner);
    }
  });
}

}  // namespace loom::cpu
