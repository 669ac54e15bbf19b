// nn/losses.cpp: each loss's forward and backward side by side (formulas in losses.h).
#include "nn/losses.h"

#include "autograd/node.h"
#include "tensor/ops.h"

namespace loom::nn {

namespace {

void check_pair(const char* op, const Variable& x, const Tensor& y) {
  LOOM_CHECK(x.defined() && y.defined(), op, ": undefined input or target");
  LOOM_CHECK(x.shape() == y.shape(), op, ": input ", shape_str(x.shape()), " and target ",
             shape_str(y.shape()), " must have the same shape");
  LOOM_CHECK(x.dtype() == y.dtype(), op, ": input is ", dtype_name(x.dtype()), " but target is ",
             dtype_name(y.dtype()), " (cast the target with .to(dtype))");
  LOOM_CHECK(x.device() == y.device(), op, ": input on ", x.device().str(), " but target on ",
             y.device().str());
}

// Reduces the per-element loss l.
Tensor reduce(const Tensor& l, Reduction r) {
  switch (r) {
    case Reduction::None:
      return l;
    case Reduction::Sum:
      return sum(l);
    case Reduction::Mean:
      return mean(l);
  }
  LOOM_FAIL("loss: unknown reduction");
}

// The upstream gradient of the reduced loss as a factor for d l / d x: g itself for None
// (elementwise) and Sum (0-d, broadcasts), g / count for Mean.
Tensor upstream(const Tensor& g, Reduction r, int64_t count) {
  return r == Reduction::Mean ? div(g, static_cast<double>(count)) : g;
}

// Records the node shared by all losses: one input, its saved state, a local gradient d l / d x
// computed in backward from it (local(saved)), multiplied by the (scaled) upstream gradient.
template <typename Saved, typename LocalGrad>
Variable record_loss(const char* name, const Variable& x, const Tensor& l, Reduction r,
                     int64_t count, Saved saved, LocalGrad local) {
  return record(name, reduce(l, r), {x}, std::move(saved),
                [r, count, local](const Tensor& g, const Saved& s) {
                  const Tensor d = local(s);
                  Tensor u = upstream(g, r, count);
                  // cross_entropy with None: l is [N] but x is [N, C]
                  if (r == Reduction::None && u.dim() < d.dim()) u = u.unsqueeze(-1);
                  return std::vector<Tensor>{mul(d, u)};
                });
}

}  // namespace

// l = max(x, 0) - x*y + log(1 + exp(-|x|));  dl/dx = sigmoid(x) - y. Saves x and y.
Variable bce_with_logits(const Variable& logits, const Tensor& target, Reduction reduction) {
  check_pair("bce_with_logits", logits, target);
  const Tensor& x = logits.data();
  const Tensor zero = zeros({}, TensorOptions(x.dtype(), x.device()));
  const Tensor l = maximum(x, zero) - x * target + log(add(exp(neg(abs(x))), 1.0));
  struct Saved {
    Tensor x, y;
  };
  return record_loss("BCEWithLogitsBackward", logits, l, reduction, x.numel(), Saved{x, target},
                     [](const Saved& s) { return sigmoid(s.x) - s.y; });
}

// l = -(y log p + (1-y) log(1-p)), each log clamped at -100;
// dl/dp = (p - y) / max(p (1 - p), 1e-12). Saves p and y.
Variable binary_cross_entropy(const Variable& probs, const Tensor& target, Reduction reduction) {
  check_pair("binary_cross_entropy", probs, target);
  const Tensor& p = probs.data();
  LOOM_CHECK(min(p).item<double>() >= 0.0 && max(p).item<double>() <= 1.0,
             "binary_cross_entropy: every input must be a probability in [0, 1]");
  const Tensor log_p = clamp(log(p), -100.0, 0.0);
  const Tensor log_1mp = clamp(log(rsub(1.0, p)), -100.0, 0.0);
  const Tensor l = neg(target * log_p + rsub(1.0, target) * log_1mp);
  struct Saved {
    Tensor p, y;
  };
  return record_loss("BCEBackward", probs, l, reduction, p.numel(), Saved{p, target},
                     [](const Saved& s) {
                       const Tensor denom = clamp(s.p * rsub(1.0, s.p), 1e-12, 1.0);
                       return (s.p - s.y) / denom;
                     });
}

// l_n = logsumexp(x_n) - x_n[t_n] with logsumexp = m + log(sum(exp(x - m))), m = max(x_n)
// (never exp of a positive number). dl/dx_n = softmax(x_n) - onehot(t_n).
// Saves the softmax and the one-hot matrix (both [N, C]).
Variable cross_entropy(const Variable& logits, const Tensor& target, Reduction reduction) {
  LOOM_CHECK(logits.dim() == 2, "cross_entropy: logits must be [N, C], got ",
             shape_str(logits.shape()));
  LOOM_CHECK(target.defined() && target.dtype() == DType::Int64 && target.dim() == 1 &&
                 target.size(0) == logits.size(0),
             "cross_entropy: target must be Int64 [N] = [", logits.size(0), "], got ",
             target.defined() ? dtype_name(target.dtype()) : "undefined", " ",
             target.defined() ? shape_str(target.shape()) : "");
  const int64_t N = logits.size(0), C = logits.size(1);
  const std::vector<int64_t> t = target.to_vector<int64_t>();
  for (int64_t n = 0; n < N; ++n)
    LOOM_CHECK(t[n] >= 0 && t[n] < C, "cross_entropy: target[", n, "] = ", t[n],
               " is out of range for ", C, " classes");
  const Tensor& x = logits.data();
  const Tensor onehot =
      eq(arange(C, TensorOptions(DType::Int64, x.device())).view({1, C}), target.view({N, 1}))
          .to(x.dtype());
  const Tensor shifted = x - max(x, 1, /*keepdim=*/true);
  const Tensor e = exp(shifted);
  const Tensor se = sum(e, 1, true);
  const Tensor log_softmax = shifted - log(se);
  const Tensor l = neg(sum(log_softmax * onehot, 1));  // [N]
  struct Saved {
    Tensor softmax, onehot;  // [N, C] each
  };
  return record_loss("CrossEntropyBackward", logits, l, reduction, N, Saved{e / se, onehot},
                     [](const Saved& s) { return s.softmax - s.onehot; });
}

// l = (x - y)^2;  dl/dx = 2 (x - y). Saves x - y.
Variable mse_loss(const Variable& input, const Tensor& target, Reduction reduction) {
  check_pair("mse_loss", input, target);
  const Tensor d = input.data() - target;
  struct Saved {
    Tensor diff;  // x - y
  };
  return record_loss("MSEBackward", input, d * d, reduction, d.numel(), Saved{d},
                     [](const Saved& s) { return mul(s.diff, 2.0); });
}

// |d| <= delta: l = d^2 / 2;  else l = delta (|d| - delta / 2).  dl/dx = clamp(d, -delta, delta).
// Saves d = x - y.
Variable huber_loss(const Variable& input, const Tensor& target, Reduction reduction,
                    double delta) {
  check_pair("huber_loss", input, target);
  LOOM_CHECK(delta > 0, "huber_loss: delta must be > 0, got ", delta);
  const Tensor d = input.data() - target;
  const Tensor a = abs(d);
  // where(|d| > delta, linear, quadratic): at |d| == delta both pieces agree.
  const Tensor l = where(gt(a, delta), mul(sub(a, 0.5 * delta), delta), mul(mul(d, d), 0.5));
  struct Saved {
    Tensor diff;
    double delta;
  };
  return record_loss("HuberBackward", input, l, reduction, d.numel(), Saved{d, delta},
                     [](const Saved& s) { return clamp(s.diff, -s.delta, s.delta); });
}

}  // namespace loom::nn
