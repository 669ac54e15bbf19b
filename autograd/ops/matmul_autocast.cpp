// autograd/ops/matmul_autocast.cpp: matmul under autocast (float16 GEMMs, float32 result).
//
// autograd's matmul() (ops/matmul.cpp) calls this when autocast::casts_matmul() says so; the
// policy is in autograd/autocast_state.h. Shapes as for matmul:
//   a [..., m, k] @ b [..., k, n] -> y [..., m, n]  (float32), g [..., m, n]
//   forward:  y  = f32( h(a) @ h(b) )                    h = cast to float16, GEMM with
//   backward: da = f32( h(g) @ h(b)^T ), db = f32( h(a)^T @ h(g) )   float accumulation
// The backward GEMMs run in float16 too; that is where tiny gradients would flush to zero
// without loss scaling (nn/amp/grad_scaler.h), and where an over-large scale overflows to inf,
// which the scaler detects. Each gradient is cast back to its input's dtype before
// sum_to_shape, so the batch-broadcast sums accumulate in float32.
//
// Leaves out: a float32 output straight from the GEMM (the CPU and CUDA matmul write their
// output dtype, so the product is rounded to float16 once and widened; PyTorch's autocast
// returns that float16 product as is). loom does not promote dtypes, so a float32 result is
// what lets `matmul(x, w) + bias` and everything after it stay float32.
#include "autograd/autocast_state.h"
#include "autograd/functions.h"
#include "autograd/node.h"

namespace loom::autocast {

// Saves the float16 copies of a and b (half the bytes of the inputs; a parameter's copy is
// the cached one, shared, not a new buffer).
Variable matmul(const Variable& a, const Variable& b) {
  const DType low = compute_dtype();
  const Tensor ah = cast_cached(a, low), bh = cast_cached(b, low);
  const Tensor y = loom::matmul(ah, bh).to(DType::Float32);
  struct Saved {
    Tensor a_low, b_low;  // the float16 operands
  };
  return record("AutocastMatmulBackward", y, {a, b}, Saved{ah, bh},
                [sa = a.shape(), sb = b.shape(), da = a.dtype(), db = b.dtype(), low](
                    const Tensor& g, const Saved& s) {
                  const Tensor gh = g.to(low);
                  const Tensor ga = loom::matmul(gh, s.b_low.transpose(-1, -2)).to(da);
                  const Tensor gb = loom::matmul(s.a_low.transpose(-1, -2), gh).to(db);
                  return std::vector<Tensor>{sum_to_shape(ga, sa), sum_to_shape(gb, sb)};
                });
}

}  // namespace loom::autocast
