// tests/nn/init_test.cpp: the initialisers of nn/init.h and the layers' InitScheme (lab 03).
//
// Orthogonal matrices are orthogonal to 1e-5 (rows or columns, whichever are fewer; per gate for
// an LSTM's recurrent weights); glorot draws stay inside their bound and have its variance; Keras'
// LSTM starts with a forget-gate bias of 1 and zero elsewhere; Keras' Embedding stays inside
// +-0.05; the Torch scheme keeps PyTorch's bounds; names round-trip and bad ones are refused.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/embedding.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/lstm.h"
#include "tensor/ops.h"
#include "tests/common/error_of.h"

namespace {

using namespace loom;

// max |M M^T - I| for M [r, c] with r <= c (or M^T M for r > c).
double orthogonality_error(const Tensor& m) {
  const Tensor a = m.to(DType::Float64);
  const Tensor gram = a.size(0) <= a.size(1) ? matmul(a, a.t()) : matmul(a.t(), a);
  const int64_t n = gram.size(0);
  Tensor eye = zeros({n, n}, DType::Float64);
  for (int64_t i = 0; i < n; ++i)
    eye.select(0, i).narrow(0, i, 1).fill_(1);
  return max(abs(sub(gram, eye))).item<double>();
}

TEST(Init, OrthogonalIsOrthogonalWideTallAndSquare) {
  Generator g(1);
  for (Shape s : {Shape{7, 7}, Shape{5, 12}, Shape{40, 10}}) {
    const Tensor w = empty(s);
    nn::init::orthogonal_(w, g);
    EXPECT_LE(orthogonality_error(w), 1e-5) << shape_str(s);
  }
}

TEST(Init, PerGateOrthogonalMakesEveryGateBlockOrthogonal) {
  Generator g(2);
  const int64_t H = 16;
  const Tensor w = empty({4 * H, H});
  nn::init::orthogonal_per_gate_(w, 4, g);
  for (int64_t k = 0; k < 4; ++k)
    EXPECT_LE(orthogonality_error(w.narrow(0, k * H, H)), 1e-5) << "gate " << k;
  EXPECT_GT(orthogonality_error(w), 0.5);  // the whole [4H, H] is not (each column has norm 2)
  EXPECT_THROW(nn::init::orthogonal_per_gate_(empty({10, 3}), 4, g), Error);
}

TEST(Init, GlorotStaysInsideItsBoundWithItsVariance) {
  Generator g(3);
  const Tensor w = empty({300, 200});
  nn::init::glorot_uniform_(w, g);
  const double bound = std::sqrt(6.0 / 500.0);
  EXPECT_LE(max(abs(w)).item<double>(), bound);
  const double var = mean(mul(w, w)).item<double>();  // U(-b, b): b^2 / 3
  EXPECT_NEAR(var, bound * bound / 3, 0.03 * bound * bound / 3);
  nn::init::glorot_normal_(w, g);
  EXPECT_NEAR(mean(mul(w, w)).item<double>(), 2.0 / 500, 0.03 * 2.0 / 500);
}

TEST(Init, KerasLstmHasTheForgetBiasAndAnOrthogonalRecurrentKernel) {
  Generator g(4);
  const int64_t in = 10, H = 8;
  nn::LSTM lstm(nn::LSTMOptions(in, H).init(nn::InitScheme::Keras), g);
  const nn::LstmParams& p = lstm.params()[0];
  const std::vector<double> b_ih = p.b_ih.data().to_vector<double>();
  const std::vector<double> b_hh = p.b_hh.data().to_vector<double>();
  for (int64_t i = 0; i < 4 * H; ++i) {
    EXPECT_EQ(b_ih[i], i >= H && i < 2 * H ? 1.0 : 0.0) << i;  // gate order i, f, g, o
    EXPECT_EQ(b_hh[i], 0.0) << i;
  }
  for (int64_t k = 0; k < 4; ++k)
    EXPECT_LE(orthogonality_error(p.w_hh.data().narrow(0, k * H, H)), 1e-5);
  EXPECT_LE(max(abs(p.w_ih.data())).item<double>(), std::sqrt(6.0 / (in + 4 * H)));
}

TEST(Init, KerasDenseAndEmbedding) {
  Generator g(5);
  nn::Linear fc(nn::LinearOptions(30, 4).init(nn::InitScheme::Keras), g);
  EXPECT_LE(max(abs(fc.weight.data())).item<double>(), std::sqrt(6.0 / 34));
  EXPECT_EQ(max(abs(fc.bias.data())).item<double>(), 0.0);
  nn::Embedding emb(nn::EmbeddingOptions(50, 6).init(nn::InitScheme::Keras), g);
  EXPECT_LE(max(abs(emb.weight.data())).item<double>(), 0.05);
}

TEST(Init, TheTorchSchemeKeepsPyTorchsBounds) {
  Generator g(6);
  nn::LSTM lstm(nn::LSTMOptions(5, 9), g);
  for (const Variable& v : lstm.parameters())
    EXPECT_LE(max(abs(v.data())).item<double>(), 1.0 / 3.0);  // 1/sqrt(H)
  EXPECT_GT(max(abs(lstm.params()[0].b_ih.data())).item<double>(), 0.0);
}

TEST(Init, SchemeNames) {
  EXPECT_EQ(nn::init::scheme_from_name("keras"), nn::InitScheme::Keras);
  EXPECT_STREQ(nn::init::scheme_name(nn::InitScheme::Torch), "torch");
  EXPECT_NE(test::error_of([] { nn::init::scheme_from_name("xavier"); }).find("torch or keras"),
            std::string::npos);
}

}  // namespace
