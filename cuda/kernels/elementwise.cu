// cuda/kernels/elementwise.cu: unary, unary-with-scalar, binary and where. CPU twin:
// tensor/cpu/elementwise.cpp (the reference for every result and every refusal).
//
// One kernel per arity (map1, map2), templated on the element types and on a functor computing
// one element in the compute type; the op becomes a template argument (dispatch_enum). Two
// paths, chosen by the launcher: 16-byte packs when every pointer is aligned and n holds a pack,
// else one element per grid-stride step (the reference the pack path must equal). Broadcasting
// is the frontend's. Per dtype the CPU's ops and refusals; integer division by zero throws like
// the CPU, which costs a read-back, so only integer division pays it.
// The kernels and functors are in elementwise_kernels.cuh; this file keeps the launchers.
//
// Leaves out: fusing several ops into one kernel, NaN rules for max/min beyond
// "a < b ? b : a".
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include "cuda/kernels/backend.h"
#include "cuda/kernels/elementwise_kernels.cuh"
#include "cuda/kernels/kernel_util.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/runtime/check.cuh"

namespace loom::cuda {
namespace {

using namespace elementwise_kernels;  // the kernels of elementwise_kernels.cuh

constexpr int kBlock = kDefaultBlockSize;

// ---- host launchers ----------------------------------------------------------------------

template <typename In, typename Out, typename F>
void launch_map1(const void* x, void* y, int64_t n, F f, const char* name, cudaStream_t stream) {
  constexpr int N = kPackOf<In>;
  const bool vec = n >= N && is_aligned(x, sizeof(In) * N) && is_aligned(y, sizeof(Out) * N);
  const LaunchConfig cfg = launch_for(vec ? n / N : n, kBlock, name);
  map1_kernel<In, Out, N><<<cfg.grid, cfg.block, 0, stream>>>(static_cast<const In*>(x),
                                                              static_cast<Out*>(y), n, vec, f);
  LOOM_CUDA_CHECK_LAUNCH();
}

template <typename In, typename Out, typename F>
void launch_map2(const void* a, const void* b, void* out, int64_t n, F f, const char* name,
                 cudaStream_t stream) {
  constexpr int N = kPackOf<In>;
  const bool vec = n >= N && is_aligned(a, sizeof(In) * N) && is_aligned(b, sizeof(In) * N) &&
                   is_aligned(out, sizeof(Out) * N);
  const LaunchConfig cfg = launch_for(vec ? n / N : n, kBlock, name);
  map2_kernel<In, Out, N><<<cfg.grid, cfg.block, 0, stream>>>(
      static_cast<const In*>(a), static_cast<const In*>(b), static_cast<Out*>(out), n, vec, f);
  LOOM_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::unary(UnaryOp op, const void* x, void* y, DType dtype, int64_t n) {
  LOOM_CHECK(n >= 0, unary_op_name(op), ": negative element count ", n);
  if (n == 0) return;
  const cudaStream_t stream = op_stream();
  dispatch_dtype(dtype, unary_op_name(op), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      LOOM_FAIL(unary_op_name(op), ": not supported for bool tensors");
    } else {
      dispatch_enum<UnaryOp, UnaryOp::Neg, UnaryOp::Exp, UnaryOp::Log, UnaryOp::Tanh,
                    UnaryOp::Sigmoid, UnaryOp::Relu, UnaryOp::Sqrt, UnaryOp::Abs, UnaryOp::Sign>(
          op, [&](auto c) {
            constexpr UnaryOp O = decltype(c)::value;
            constexpr bool kIntegerOk =
                O == UnaryOp::Neg || O == UnaryOp::Abs || O == UnaryOp::Sign || O == UnaryOp::Relu;
            if constexpr (kIsFloat<T> || kIntegerOk) {
              launch_map1<T, T>(x, y, n, UnaryF<O>{}, unary_op_name(op), stream);
            } else {
              LOOM_FAIL(unary_op_name(op), ": not supported for integer dtypes");
            }
          });
    }
  });
}

void CudaBackend::unary_scalar(ScalarOp op, const void* x, double s, void* y, DType dtype,
                               int64_t n) {
  LOOM_CHECK(n >= 0, scalar_op_name(op), ": negative element count ", n);
  if (n == 0) return;
  const cudaStream_t stream = op_stream();
  dispatch_dtype(dtype, scalar_op_name(op), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      LOOM_FAIL("scalar arithmetic is not supported for bool tensors");
    } else {
      dispatch_enum<ScalarOp, ScalarOp::Add, ScalarOp::Mul, ScalarOp::Div, ScalarOp::RSub,
                    ScalarOp::RDiv, ScalarOp::Pow, ScalarOp::LeakyRelu, ScalarOp::Max,
                    ScalarOp::Min, ScalarOp::Elu>(op, [&](auto c) {
        constexpr ScalarOp O = decltype(c)::value;
        if constexpr (kIsFloat<T>) {
          using C = ComputeT<T>;
          launch_map1<T, T>(x, y, n, ScalarFloatF<O, C>{static_cast<C>(s)}, scalar_op_name(op),
                            stream);
        } else if constexpr (O == ScalarOp::RDiv || O == ScalarOp::Pow ||
                             O == ScalarOp::LeakyRelu || O == ScalarOp::Elu) {
          LOOM_FAIL("scalar op ", scalar_op_name(op), ": not supported for integer dtypes");
        } else {
          launch_map1<T, T>(x, y, n, ScalarIntF<O, T>{s}, scalar_op_name(op), stream);
        }
      });
    }
  });
}

void CudaBackend::binary(BinaryOp op, const void* a, const void* b, void* out, DType dtype,
                         int64_t n) {
  const char* name = binary_op_name(op);
  LOOM_CHECK(n >= 0, name, ": negative element count ", n);
  if (n == 0) return;
  const cudaStream_t stream = op_stream();
  dispatch_dtype(dtype, name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_enum<BinaryOp, BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div,
                  BinaryOp::Max, BinaryOp::Min, BinaryOp::Pow, BinaryOp::Eq, BinaryOp::Ne,
                  BinaryOp::Lt, BinaryOp::Le, BinaryOp::Gt, BinaryOp::Ge>(op, [&](auto c) {
      constexpr BinaryOp O = decltype(c)::value;
      constexpr bool kCompare = O >= BinaryOp::Eq;
      constexpr bool kArith = O == BinaryOp::Add || O == BinaryOp::Sub || O == BinaryOp::Mul ||
                              O == BinaryOp::Div || O == BinaryOp::Pow;
      using Out = std::conditional_t<kCompare, bool, T>;
      if constexpr (std::is_same_v<T, bool> && kArith) {
        LOOM_FAIL(name, ": not supported for bool tensors");
      } else if constexpr (!kIsFloat<T> && O == BinaryOp::Pow) {
        LOOM_FAIL(name, ": not supported for integer dtypes");
      } else if constexpr (!kIsFloat<T> && O == BinaryOp::Div) {
        // The one op that can fail inside the kernel: report it like the CPU does.
        ErrorSlot error(stream);
        BinaryF<O> f;
        f.error = error.get();
        launch_map2<T, Out>(a, b, out, n, f, name, stream);
        LOOM_CHECK(error.read("div", "reading its division-by-zero check back") < 0,
                   "div: integer division by zero");
      } else {
        launch_map2<T, Out>(a, b, out, n, BinaryF<O>{}, name, stream);
      }
    });
  });
}

void CudaBackend::where(const void* cond, const void* a, const void* b, void* out, DType dtype,
                        int64_t n) {
  LOOM_CHECK(n >= 0, "where: negative element count ", n);
  if (n == 0) return;
  const cudaStream_t stream = op_stream();
  dispatch_word(dtype, "where", [&](auto tag) {
    using W = typename decltype(tag)::type;
    const LaunchConfig cfg = launch_for(n, kBlock, "where");
    where_kernel<W><<<cfg.grid, cfg.block, 0, stream>>>(
        static_cast<const bool*>(cond), static_cast<const W*>(a), static_cast<const W*>(b),
        static_cast<W*>(out), n);
    LOOM_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace loom::cuda
