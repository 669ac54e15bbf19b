// tensor/tensor_print.cpp: PyTorch-style printing of tensors.
//
//   tensor([[1.0000, 2.0000],
//           [3.0000, 4.0000]], dtype=float32)
//
// Floats print with 4 decimals (scientific when the magnitudes call for it), all values in
// one width. Tensors over 1000 elements show the first and last 3 entries of each dim with
// "...". Integers print plainly, bools as True/False. Leaves out PyTorch's sci-mode tuning.
#include <cmath>
#include <cstdio>
#include <ostream>
#include <sstream>

#include "tensor/tensor.h"

namespace loom {
namespace {

constexpr int64_t kSummariseAbove = 1000;
constexpr int64_t kEdgeItems = 3;

struct Formatter {
  DType dtype;
  bool sci = false;
  size_t width = 0;

  std::string format(double v) const {
    char buf[64];
    if (dtype == DType::Bool) return v != 0 ? "True" : "False";
    if (!is_floating(dtype)) {
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    } else if (std::isnan(v)) {
      return "nan";
    } else if (std::isinf(v)) {
      return v > 0 ? "inf" : "-inf";
    } else {
      std::snprintf(buf, sizeof buf, sci ? "%.4e" : "%.4f", v);
    }
    return buf;
  }
};

void print_rec(std::ostream& out, const Tensor& t, const Formatter& f, bool summarise,
               int64_t depth) {
  if (t.dim() == 0) {
    const std::string s = f.format(t.item<double>());
    out << std::string(f.width > s.size() ? f.width - s.size() : 0, ' ') << s;
    return;
  }
  const int64_t n = t.size(0);
  out << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (summarise && n > 2 * kEdgeItems && i == kEdgeItems) {
      out << "...";
      i = n - kEdgeItems - 1;
      out << (t.dim() == 1 ? ", " : ",\n" + std::string(depth + 8, ' '));
      continue;
    }
    print_rec(out, t.select(0, i), f, summarise, depth + 1);
    if (i + 1 < n) {
      if (t.dim() == 1) {
        out << ", ";
      } else {
        out << "," << std::string(t.dim() - 1, '\n') << std::string(depth + 8, ' ');
      }
    }
  }
  out << "]";
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const Tensor& t) {
  if (!t.defined()) return out << "tensor(undefined)";
  const Tensor host = t.to(kCPU);
  const bool summarise = host.numel() > kSummariseAbove;
  Formatter f{host.dtype()};
  // One width for all values; scientific notation when magnitudes span a lot.
  const std::vector<double> values = host.to_vector<double>();
  double max_abs = 0, min_abs = INFINITY;
  for (double v : values) {
    if (std::isfinite(v) && v != 0) {
      max_abs = std::max(max_abs, std::fabs(v));
      min_abs = std::min(min_abs, std::fabs(v));
    }
  }
  f.sci = is_floating(host.dtype()) && (max_abs >= 1e8 || (min_abs < 1e-4 && max_abs > 0));
  for (double v : values)
    f.width = std::max(f.width, f.format(v).size());
  out << "tensor(";
  print_rec(out, host, f, summarise, 0);
  out << ", dtype=" << dtype_name(t.dtype());
  if (!t.device().is_cpu()) out << ", device='" << t.device().str() << "'";
  return out << ")";
}

std::string to_string(const Tensor& t) {
  std::ostringstream s;
  s << t;
  return s.str();
}

}  // namespace loom
