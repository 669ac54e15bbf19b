// autograd/ops/matmul_autocast.cpp: matmul under autocast (16-bit GEMMs, float32 result).
//
// autograd's matmul() (ops/matmul.cpp) calls this when autocast::casts_matmul() says so; the
// policy is in autograd/autocast_state.h. Shapes as for matmul:
//   a [..., m, k] @ b [..., k, n] -> y [..., m, n]  (float32), g [..., m, n]
//   forward:  y  = f32( h(a) @ h(b) )          h = cast to the compute dtype (float16 or
//   backward: da = f32( h(g) @ h(b)^T ),       bfloat16), GEMM with float accumulation
//             db = f32( h(a)^T @ h(g) )
// The backward GEMMs run in the compute dtype too (float16 needs loss scaling for that; bfloat16
// does not). Gradients are cast back to their inputs' dtype before sum_to_shape (float32 sums).
//
// Leaves out: a float32 output straight from the GEMM (the CPU and CUDA matmul write their
// output dtype, so the product is rounded to 16 bits once and widened; PyTorch's autocast
// returns that float16 product as is). loom does not promote dtypes, so a float32 result is
// what lets `matmul(x, w) + bias` and everything after it stay float32.
#include "autograd/autocast_state.h"
#include "autograd/functions.h"
#include "autograd/node.h"

namespace loom::autocast {

// Saves the 16-bit copies of a and b (half the bytes of the inputs; a parameter's copy is
// the cached one, shared, not a new buffer).
Variable matmul(const Variable& a, const Variable& b) {
  const DType low = compute_dtype();
  const Tensor ah = cast_cached(a, low), bh = cast_cached(b, low);
  const Tensor y = loom::matmul(ah, bh).to(DType::Float32);
  struct Saved {
    Tensor a_low, b_low;  // the operands in the compute dtype
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
