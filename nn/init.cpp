// nn/init.cpp: the fills of nn/init.h, on top of tensor/'s uniform() and normal() factories.
#include "nn/init.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace loom::nn::init {
namespace {

void check_matrix(const char* op, const Tensor& w) {
  LOOM_CHECK(w.defined() && w.dim() == 2 && w.numel() > 0, "init::", op,
             ": expects a non-empty 2-D tensor, got ",
             w.defined() ? shape_str(w.shape()) : std::string("an undefined tensor"));
}

// The columns of a [n, m] row-major matrix (n >= m) made orthonormal in place by modified
// Gram-Schmidt. Each R_jj is a positive norm, so this is the sign-corrected Q of the QR
// factorisation (Q R with diag(R) > 0 is unique).
void orthonormalize_columns(std::vector<double>& a, int64_t n, int64_t m) {
  for (int64_t j = 0; j < m; ++j) {
    for (int64_t k = 0; k < j; ++k) {  // remove the part along each earlier column
      double dot = 0;
      for (int64_t i = 0; i < n; ++i)
        dot += a[i * m + k] * a[i * m + j];
      for (int64_t i = 0; i < n; ++i)
        a[i * m + j] -= dot * a[i * m + k];
    }
    double norm = 0;
    for (int64_t i = 0; i < n; ++i)
      norm += a[i * m + j] * a[i * m + j];
    norm = std::sqrt(norm);
    LOOM_CHECK(norm > 0, "init::orthogonal_: a degenerate random matrix (draw again)");
    for (int64_t i = 0; i < n; ++i)
      a[i * m + j] /= norm;
  }
}

// A [rows, cols] matrix with orthonormal rows or columns, in double on the host.
Tensor orthogonal_matrix(int64_t rows, int64_t cols, Generator& gen) {
  const int64_t n = std::max(rows, cols), m = std::min(rows, cols);
  std::vector<double> a = normal({n, m}, 0.0, 1.0, gen, DType::Float64).to_vector<double>();
  orthonormalize_columns(a, n, m);
  const Tensor q = from_vector<double>(a, {n, m});  // [n, m], orthonormal columns
  return rows >= cols ? q : q.t().contiguous();
}

}  // namespace

void uniform_(const Tensor& t, double low, double high, Generator& gen) {
  LOOM_CHECK(t.defined(), "init::uniform_: undefined tensor");
  LOOM_CHECK(low <= high, "init::uniform_: low ", low, " > high ", high);
  t.copy_(uniform(t.shape(), low, high, gen, TensorOptions(t.dtype(), t.device())));
}

void normal_(const Tensor& t, double mean, double stddev, Generator& gen) {
  LOOM_CHECK(t.defined(), "init::normal_: undefined tensor");
  LOOM_CHECK(stddev >= 0, "init::normal_: negative stddev ", stddev);
  t.copy_(normal(t.shape(), mean, stddev, gen, TensorOptions(t.dtype(), t.device())));
}

void zeros_(const Tensor& t) {
  LOOM_CHECK(t.defined(), "init::zeros_: undefined tensor");
  t.fill_(0);
}

void glorot_uniform_(const Tensor& w, Generator& gen) {
  check_matrix("glorot_uniform_", w);
  const double b = std::sqrt(6.0 / static_cast<double>(w.size(0) + w.size(1)));
  uniform_(w, -b, b, gen);
}

void glorot_normal_(const Tensor& w, Generator& gen) {
  check_matrix("glorot_normal_", w);
  normal_(w, 0.0, std::sqrt(2.0 / static_cast<double>(w.size(0) + w.size(1))), gen);
}

void orthogonal_(const Tensor& w, Generator& gen) {
  check_matrix("orthogonal_", w);
  w.copy_(orthogonal_matrix(w.size(0), w.size(1), gen));
}

void orthogonal_per_gate_(const Tensor& w, int64_t gates, Generator& gen) {
  check_matrix("orthogonal_per_gate_", w);
  const int64_t H = w.size(1);
  LOOM_CHECK(gates >= 1 && w.size(0) == gates * H, "init::orthogonal_per_gate_: expects [", gates,
             " * H, H], got ", shape_str(w.shape()));
  for (int64_t g = 0; g < gates; ++g)
    w.narrow(0, g * H, H).copy_(orthogonal_matrix(H, H, gen));
}

void lstm_unit_forget_bias_(const Tensor& b_ih, const Tensor& b_hh) {
  LOOM_CHECK(b_ih.defined() && b_ih.dim() == 1 && b_ih.size(0) % 4 == 0 && b_hh.defined() &&
                 b_hh.shape() == b_ih.shape(),
             "init::lstm_unit_forget_bias_: expects two [4H] biases");
  const int64_t H = b_ih.size(0) / 4;
  b_ih.fill_(0);
  b_hh.fill_(0);
  b_ih.narrow(0, H, H).fill_(1);  // gate order i, f, g, o: f is the second block
}

double kaiming_uniform_bound(int64_t fan_in, double a) {
  LOOM_CHECK(fan_in > 0, "init::kaiming_uniform_bound: fan_in must be > 0, got ", fan_in);
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  return gain * std::sqrt(3.0 / static_cast<double>(fan_in));
}

double linear_bound(int64_t in_features) {
  LOOM_CHECK(in_features > 0, "init::linear_bound: in_features must be > 0, got ", in_features);
  return 1.0 / std::sqrt(static_cast<double>(in_features));
}

double lstm_bound(int64_t hidden_size) {
  LOOM_CHECK(hidden_size > 0, "init::lstm_bound: hidden_size must be > 0, got ", hidden_size);
  return 1.0 / std::sqrt(static_cast<double>(hidden_size));
}

InitScheme scheme_from_name(const std::string& name) {
  if (name == "torch") return InitScheme::Torch;
  if (name == "keras") return InitScheme::Keras;
  LOOM_FAIL("init scheme must be torch or keras, got '", name, "'");
}

const char* scheme_name(InitScheme s) {
  return s == InitScheme::Keras ? "keras" : "torch";
}

}  // namespace loom::nn::init
