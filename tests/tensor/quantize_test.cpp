// tests/tensor/quantize_test.cpp: int8 dynamic quantization (tensor/quantize.h) and the eval-mode
// ops (tensor/inference.h): round trips, saturation, the int8 Linear against a scalar reference
// and against float32, the folded LSTM against the training op, and no allocation per call.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "tensor/cpu/gemm/gemm.h"
#include "tensor/generator.h"
#include "tensor/inference.h"
#include "tensor/kernels/int8_quantize.h"
#include "tensor/lstm.h"
#include "tensor/ops.h"
#include "tensor/quantize.h"

namespace loom {
namespace {

Tensor random_tensor(const Shape& shape, double lo, double hi, uint64_t seed) {
  Generator g(seed);
  return uniform(shape, lo, hi, g);
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  float m = 0;
  for (size_t i = 0; i < x.size(); ++i)
    m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}

TEST(Quantize, WeightRoundTripIsWithinHalfAStepPerChannel) {
  const Tensor w = random_tensor({7, 33}, -2.0, 2.0, 1);
  const QuantizedMatrix q = quantize_per_channel(w);
  const Tensor back = dequantize(q);
  const std::vector<float> wv = w.to_vector<float>(), bv = back.to_vector<float>(),
                           s = q.scales.to_vector<float>();
  const std::vector<int8_t> v = q.values.to_vector<int8_t>();
  for (int64_t n = 0; n < 7; ++n) {
    int max_q = 0;
    for (int64_t k = 0; k < 33; ++k) {
      const size_t i = static_cast<size_t>(n * 33 + k);
      EXPECT_LE(std::fabs(wv[i] - bv[i]), 0.5f * s[n] * (1 + 1e-6f)) << "row " << n << " col " << k;
      max_q = std::max(max_q, std::abs(static_cast<int>(v[i])));
    }
    EXPECT_EQ(max_q, 127) << "the largest |w| of a row maps to +-127";
  }
  const std::vector<int32_t> sums = q.sums.to_vector<int32_t>();
  int32_t row0 = 0;
  for (int64_t k = 0; k < 33; ++k)
    row0 += v[static_cast<size_t>(k)];
  EXPECT_EQ(sums[0], row0);
}

TEST(Quantize, ZeroRowAndSaturationStayInRange) {
  Tensor w = zeros({2, 4});
  w.narrow(0, 1, 1).fill_(-3.0);
  const QuantizedMatrix q = quantize_per_channel(w);
  EXPECT_EQ(q.scales.to_vector<float>()[0], 1.0f);  // all-zero row: scale 1, values 0
  EXPECT_EQ(q.values.to_vector<int8_t>()[0], 0);
  EXPECT_EQ(q.values.to_vector<int8_t>()[4], -127);  // never -128
  // Values past the grid clamp to its ends instead of wrapping around.
  EXPECT_EQ(kernels::quantize_weight(1000.0f, 1.0f), 127);
  EXPECT_EQ(kernels::quantize_weight(-1000.0f, 1.0f), -127);
  const kernels::RowQuantParams p = kernels::uint8_row_params(-1.0f, 1.0f);
  EXPECT_EQ(kernels::quantize_activation(5.0f, p), 255);
  EXPECT_EQ(kernels::quantize_activation(-5.0f, p), 0);
  // A row entirely on one side of 0 is widened to reach it: 0 stays on the grid.
  EXPECT_EQ(kernels::uint8_row_params(0.25f, 0.5f).zero_point, 0);
  EXPECT_EQ(kernels::uint8_row_params(-0.5f, -0.25f).zero_point, 255);
  EXPECT_EQ(kernels::uint8_row_params(0.0f, 0.0f).scale, 1.0f);  // all zeros: no division by 0
}

TEST(Quantize, ActivationRowsRoundTripAndKeepZeroExact) {
  Tensor x = random_tensor({5, 40}, -3.0, 1.0, 2);
  x.narrow(0, 4, 1).fill_(0.25);  // a positive row: its range is widened down to 0
  x.narrow(1, 7, 1).fill_(0.0);
  const QuantizedRows q = quantize_rows(x);
  const Tensor back = dequantize(q);
  const std::vector<float> xv = x.to_vector<float>(), bv = back.to_vector<float>(),
                           s = q.scales.to_vector<float>();
  for (int64_t m = 0; m < 5; ++m) {
    EXPECT_EQ(bv[static_cast<size_t>(m * 40 + 7)], 0.0f) << "0 is on every row's grid";
    for (int64_t k = 0; k < 40; ++k) {
      const size_t i = static_cast<size_t>(m * 40 + k);
      EXPECT_LE(std::fabs(xv[i] - bv[i]), 0.5f * s[m] * (1 + 1e-5f)) << m << ", " << k;
    }
  }
  EXPECT_EQ(q.zero_points.to_vector<int32_t>()[4], 0);
}

// The int8 Linear, summed in double from the same quantized operands: the kernel must agree to
// float rounding (its int32 sums are exact; only the final scaling rounds).
Tensor scalar_reference(const Tensor& x, const QuantizedMatrix& w, const Tensor& bias) {
  const QuantizedRows qx = quantize_rows(x);
  const int64_t M = x.size(0), K = x.size(1), N = w.values.size(0);
  const std::vector<uint8_t> a = qx.values.to_vector<uint8_t>();
  const std::vector<int8_t> b = w.values.to_vector<int8_t>();
  const std::vector<float> sx = qx.scales.to_vector<float>(), sw = w.scales.to_vector<float>(),
                           bv = bias.to_vector<float>();
  const std::vector<int32_t> z = qx.zero_points.to_vector<int32_t>();
  std::vector<float> y(static_cast<size_t>(M * N));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k)
        acc += static_cast<double>(a[m * K + k] - z[m]) * b[n * K + k];
      y[static_cast<size_t>(m * N + n)] = static_cast<float>(acc * sx[m] * sw[n] + bv[n]);
    }
  return from_vector<float>(y, {M, N});
}

TEST(Quantize, Int8LinearMatchesTheScalarReference) {
  const Tensor x = random_tensor({13, 70}, -1.5, 2.5, 3), w = random_tensor({37, 70}, -0.3, 0.3, 4),
               bias = random_tensor({37}, -1.0, 1.0, 5);
  const QuantizedMatrix q = quantize_per_channel(w);
  const Tensor y = linear_int8(x, q, bias), ref = scalar_reference(x, q, bias);
  EXPECT_LT(max_abs_diff(y, ref), 1e-5f);
}

// No saturation anywhere: every product at its extreme (255 x -127) over a long k would
// saturate VPMADDUBSW's int16 pair sums (2 x -32385 < -32768) but not VPDPBUSD's int32 sums.
TEST(Quantize, Int8LinearDoesNotSaturateAtExtremeProducts) {
  const int64_t K = 4096;
  Tensor x = full({2, K}, 1.0);
  x.narrow(1, 0, 1).fill_(0.0);  // row range [0, 1]: zero point 0, every other value q = 255
  const Tensor w = full({3, K}, -1.0);
  const QuantizedMatrix q = quantize_per_channel(w);
  const Tensor y = linear_int8(x, q, Tensor());
  for (float v : y.to_vector<float>())
    EXPECT_NEAR(v, -static_cast<float>(K - 1), 1e-3f * K);
  EXPECT_LT(max_abs_diff(y, scalar_reference(x, q, zeros({3}))), 1e-6f * K);
}

// Against float32: each product's error is at most |x| e_w + |w| e_x + e_x e_w with
// e_w = s_w / 2 and e_x = s_x / 2 (half a step of each grid), so the sum's error is bounded by
// the sum of those terms; the test checks that bound element by element.
TEST(Quantize, Int8LinearIsWithinTheRoundingBoundOfFloat32) {
  const int64_t M = 6, K = 100, N = 20;
  const Tensor x = random_tensor({M, K}, -1.0, 1.0, 6), w = random_tensor({N, K}, -0.2, 0.2, 7);
  const QuantizedMatrix q = quantize_per_channel(w);
  const QuantizedRows qx = quantize_rows(x);
  const Tensor exact = matmul(x, w.t()), y = linear_int8(x, q, Tensor());
  const std::vector<float> xv = x.to_vector<float>(), wv = w.to_vector<float>(),
                           e = exact.to_vector<float>(), yv = y.to_vector<float>(),
                           sx = qx.scales.to_vector<float>(), sw = q.scales.to_vector<float>();
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double bound = 0;
      for (int64_t k = 0; k < K; ++k)
        bound += std::fabs(xv[m * K + k]) * sw[n] / 2 + std::fabs(wv[n * K + k]) * sx[m] / 2 +
                 sx[m] * sw[n] / 4;
      EXPECT_LE(std::fabs(yv[m * N + n] - e[m * N + n]), bound * 1.001 + 1e-5) << m << ", " << n;
    }
}

// B packed once gives the bits of packing it per call, for one row (the GEMV kernel path) and
// many, across several column blocks (n > 512) and k blocks (k > 1024).
TEST(Quantize, PrepackedB_GivesTheSameBits) {
  std::mt19937 rng(9);
  const int64_t n = 600, k = 1500;
  std::vector<int8_t> b(static_cast<size_t>(n * k));
  for (int8_t& v : b)
    v = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  MatmulArgs args;
  args.n = n, args.k = k, args.trans_b = true, args.ldb = k, args.lda = k, args.ldc = n;
  cpu::gemm::PackedU8S8B packed;
  cpu::gemm::pack_b_u8s8(b.data(), args, packed);
  for (int64_t m : {1, 13}) {
    std::vector<uint8_t> a(static_cast<size_t>(m * k));
    for (uint8_t& v : a)
      v = static_cast<uint8_t>(rng() % 256);
    args.m = m;
    std::vector<int32_t> want(static_cast<size_t>(m * n)), got(want.size());
    cpu::gemm::gemm_u8s8(a.data(), b.data(), want.data(), args);
    cpu::gemm::gemm_u8s8_packed(a.data(), packed, got.data(), args);
    EXPECT_EQ(got, want) << "m = " << m;
  }
  args.k = k - 1;
  std::vector<int32_t> c(static_cast<size_t>(n));
  std::vector<uint8_t> a(static_cast<size_t>(k));
  args.m = 1;
  EXPECT_THROW(cpu::gemm::gemm_u8s8_packed(a.data(), packed, c.data(), args), Error);
}

TEST(Quantize, BadInputsNameTheArgument) {
  const QuantizedMatrix q = quantize_per_channel(random_tensor({4, 8}, -1, 1, 8));
  EXPECT_THROW(linear_int8(zeros({2, 9}), q, Tensor()), Error);      // K mismatch
  EXPECT_THROW(linear_int8(zeros({2, 8}), q, zeros({5})), Error);    // bias size
  EXPECT_THROW(quantized_matrix(q.values, zeros({4}), "w"), Error);  // scale 0
  EXPECT_THROW(quantized_matrix(q.values, ones({3}), "w"), Error);   // one scale per row
  EXPECT_THROW(quantize_per_channel(full({2, 2}, NAN)), Error);      // not finite
  EXPECT_THROW(quantize_per_channel(zeros({2, 2}, DType::Float64)), Error);
}

// A small LSTM: the folded eval-mode op against the training op (tensor/lstm.h) from zero state.
struct SmallLstm {
  int64_t V = 11, E = 6, H = 5, B = 3, T = 7;
  Tensor embedding = random_tensor({V, E}, -1, 1, 10),
         w_ih = random_tensor({4 * H, E}, -0.5, 0.5, 11),
         w_hh = random_tensor({4 * H, H}, -0.5, 0.5, 12),
         b_ih = random_tensor({4 * H}, -0.2, 0.2, 13), b_hh = random_tensor({4 * H}, -0.2, 0.2, 14);
  Tensor ids = from_vector<int32_t>(
      {0, 3, 5, 10, 2, 2, 1, 4, 4, 4, 9, 8, 7, 6, 0, 0, 0, 1, 2, 3, 5}, {B, T});

  // h_T by the training op: x [T, B, E] time-major from the embedding rows.
  Tensor reference_h() const {
    const Tensor x = index_select(embedding, 0, ids.flatten()).reshape({B, T, E}).transpose(0, 1);
    const LstmLayerForward f = lstm_layer_forward(x.contiguous(), zeros({B, H}), zeros({B, H}),
                                                  w_ih, w_hh, b_ih, b_hh, LstmLayerArgs{});
    return f.y.select(0, T - 1);
  }
};

TEST(LstmInference, FoldedTableMatchesTheTrainingOp) {
  const SmallLstm m;
  const Tensor table = fold_input_projection(m.embedding, m.w_ih, m.b_ih, m.b_hh);
  const Tensor h = empty({m.B, m.H}), c = empty({m.B, m.H});
  lstm_inference(table, m.ids, RecurrentWeights{m.w_hh, {}}, h, c);
  EXPECT_LT(max_abs_diff(h, m.reference_h()), 1e-5f);
}

TEST(LstmInference, FoldEqualsEmbeddingThenProjection) {
  const SmallLstm m;
  const Tensor table = fold_input_projection(m.embedding, m.w_ih, m.b_ih, m.b_hh);
  const Tensor x = index_select(m.embedding, 0, m.ids.flatten());
  const Tensor plain = add(matmul(x, m.w_ih.t()), add(m.b_ih, m.b_hh));
  EXPECT_LT(max_abs_diff(index_select(table, 0, m.ids.flatten()), plain), 1e-6f);
}

TEST(LstmInference, Int8RecurrenceStaysCloseToFloat32) {
  const SmallLstm m;
  const Tensor table = fold_input_projection(m.embedding, m.w_ih, m.b_ih, m.b_hh);
  const Tensor h = empty({m.B, m.H}), c = empty({m.B, m.H});
  lstm_inference(table, m.ids, RecurrentWeights{Tensor(), quantize_per_channel(m.w_hh)}, h, c);
  // h is in (-1, 1); each step's recurrent sum has 5 terms with errors below 1% of their size,
  // and the gates squash them (slopes <= 1): 0.02 leaves room for 7 steps of carried error.
  EXPECT_LT(max_abs_diff(h, m.reference_h()), 0.02f);
}

TEST(LstmInference, RejectsAnIdOutsideTheTable) {
  const SmallLstm m;
  const Tensor table = fold_input_projection(m.embedding, m.w_ih, m.b_ih, m.b_hh);
  const Tensor bad = from_vector<int32_t>({0, 11}, {1, 2});
  const Tensor h = empty({1, m.H}), c = empty({1, m.H});
  EXPECT_THROW(lstm_inference(table, bad, RecurrentWeights{m.w_hh, {}}, h, c), Error);
  EXPECT_THROW(lstm_inference(table, m.ids, RecurrentWeights{m.w_hh, {}}, h, c), Error);  // B
}

TEST(LstmInference, LinearIntoMatchesMatmulPlusBias) {
  const Tensor x = random_tensor({4, 9}, -1, 1, 20), w = random_tensor({3, 9}, -1, 1, 21),
               b = random_tensor({3}, -1, 1, 22), out = empty({4, 3});
  linear_into(x, w, b, out);
  EXPECT_LT(max_abs_diff(out, add(matmul(x, w.t()), b)), 1e-6f);
}

TEST(LstmInference, SteadyStateAllocatesNoStorage) {
  const SmallLstm m;
  const Tensor table = fold_input_projection(m.embedding, m.w_ih, m.b_ih, m.b_hh);
  const RecurrentWeights fp32{m.w_hh, {}}, int8{Tensor(), quantize_per_channel(m.w_hh)};
  const QuantizedMatrix head = quantize_per_channel(random_tensor({1, m.H}, -1, 1, 23));
  const Tensor h = empty({m.B, m.H}), c = empty({m.B, m.H}), out = empty({m.B, 1}),
               w = random_tensor({1, m.H}, -1, 1, 24), b = zeros({1});
  for (int pass = 0; pass < 2; ++pass) {  // the first pass may grow kernel scratch space
    const int64_t before = storage_count();
    lstm_inference(table, m.ids, fp32, h, c);
    linear_into(h, w, b, out);
    lstm_inference(table, m.ids, int8, h, c);
    linear_int8_into(h, head, b, out);
    EXPECT_EQ(storage_count(), before) << "pass " << pass;
  }
}

}  // namespace
}  // namespace loom
