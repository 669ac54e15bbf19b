// autograd/ops/matmul.cpp: matmul and its backward.
//
// Shapes: a [..., m, k] @ b [..., k, n] -> y [..., m, n], g [..., m, n]
//   da = g @ b^T  [..., m, k]      db = a^T @ g  [..., k, n]
// then summed back over broadcast batch dims. The transposes are views: the backend reads
// them in place through its transpose flags, so backward makes no transposed copies.
#include "autograd/autocast_state.h"
#include "autograd/functions.h"
#include "autograd/node.h"

namespace loom {

// Saves a and b (each gradient needs the other operand).
Variable matmul(const Variable& a, const Variable& b) {
  // Under autocast (nn/amp/autocast.h) float32 GEMMs run in float16: ops/matmul_autocast.cpp.
  if (autocast::casts_matmul(a.dtype(), b.dtype())) return autocast::matmul(a, b);
  struct Saved {
    Tensor a, b;
  };
  return record(
      "MatmulBackward", matmul(a.data(), b.data()), {a, b}, Saved{a.data(), b.data()},
      [sa = a.shape(), sb = b.shape()](const Tensor& g, const Saved& s) -> std::vector<Tensor> {
        // BEGIN LAB 02 TASK 2 uses(g, s, sa, sb)
        const Tensor ga = matmul(g, s.b.transpose(-1, -2));
        const Tensor gb = matmul(s.a.transpose(-1, -2), g);
        return std::vector<Tensor>{sum_to_shape(ga, sa), sum_to_shape(gb, sb)};
        // END LAB 02 TASK 2
      });
}

}  // namespace loom
