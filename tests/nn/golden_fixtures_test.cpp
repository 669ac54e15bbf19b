// tests/nn/golden_fixtures_test.cpp: the PyTorch golden fixtures load and hold what the README
// says.
//
// Reads every file in tests/reference/golden/ (written by tests/reference/make_golden.py with its
// own safetensors writer, so this is also the "a file written by torch loads" interop check) and
// checks: each expected name is present with the right dtype and shape, and nothing else; and the
// wiring the README documents, recomputed here in plain double loops (embedding lookup, which
// LSTM output feeds the Linear, h_n's layout, the loss, Adam's first step, SGD, clipping).
// Comparing loom's layers with these values is the job of the nn layer tests, not of this file.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nn/safetensors.h"

using loom::DType;
using loom::nn::load_safetensors;
using loom::nn::SafetensorsContents;
using loom::nn::TensorRecord;
using Shape = std::vector<std::int64_t>;

namespace {

std::string golden(const std::string& name) {
  return std::string(LOOM_SOURCE_DIR) + "/tests/reference/golden/" + name + ".safetensors";
}

// Any floating or integer record as doubles.
std::vector<double> as_double(const TensorRecord& r) {
  std::vector<double> out;
  const auto take = [&](auto values) { out.assign(values.begin(), values.end()); };
  switch (r.dtype) {
    case DType::Float64:
      take(loom::nn::record_values<double>(r));
      break;
    case DType::Float32:
      take(loom::nn::record_values<float>(r));
      break;
    case DType::Int64:
      take(loom::nn::record_values<std::int64_t>(r));
      break;
    default:
      ADD_FAILURE() << r.name << ": unexpected dtype " << dtype_name(r.dtype);
  }
  return out;
}

// Checks that `c` holds exactly `expected` (name -> shape), all of `dtype` unless listed in
// `other_dtypes`.
void expect_names(const SafetensorsContents& c, const std::map<std::string, Shape>& expected,
                  DType dtype, const std::map<std::string, DType>& other_dtypes = {}) {
  for (const auto& [name, shape] : expected) {
    const TensorRecord* r = c.find(name);
    if (r == nullptr) {
      ADD_FAILURE() << "missing tensor " << name;
      continue;
    }
    EXPECT_EQ(r->shape, shape) << name;
    const auto o = other_dtypes.find(name);
    EXPECT_EQ(r->dtype, o == other_dtypes.end() ? dtype : o->second) << name;
  }
  for (const auto& r : c.tensors)
    EXPECT_TRUE(expected.count(r.name)) << "unexpected " << r.name;
}

double bce_with_logits(double x, double y) {
  return std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::abs(x)));
}

// One LSTM fixture's configuration (its "config" metadata) and the records it is checked with.
struct LstmConfig {
  std::int64_t V, E, H, O, B, T, L, D;
  bool bidir, batch_first, head_last;
  DType dtype;
  double tol;  // for values recomputed here from the file's own
  double lr;
  std::optional<std::int64_t> padding_idx;  // the embedding's, if it has one
  // The flat offset of (b, t) in a [B, T, .] (batch_first) or [T, B, .] layout, in rows.
  std::int64_t bt(std::int64_t b, std::int64_t t) const {
    return batch_first ? b * T + t : t * B + b;
  }
};

LstmConfig parse_config(const SafetensorsContents& c) {
  const auto cfg = nlohmann::json::parse(c.metadata.at("config"));
  LstmConfig k{};
  k.V = cfg["vocab"], k.E = cfg["embed"], k.H = cfg["hidden"], k.O = cfg["out"];
  k.B = cfg["batch"], k.T = cfg["seq"], k.L = cfg["layers"];
  k.bidir = cfg["bidirectional"], k.batch_first = cfg["batch_first"];
  k.head_last = cfg["head"] == "last";
  k.D = k.bidir ? 2 : 1;
  k.dtype = cfg["dtype"] == "float64" ? DType::Float64 : DType::Float32;
  k.tol = k.dtype == DType::Float64 ? 1e-12 : 1e-5;
  k.lr = cfg["lr"];
  if (!cfg["padding_idx"].is_null()) k.padding_idx = cfg["padding_idx"].get<std::int64_t>();
  return k;
}

// The parameters, by PyTorch's state_dict names.
std::map<std::string, Shape> lstm_model_params(const LstmConfig& k) {
  std::map<std::string, Shape> params = {{"embedding.weight", {k.V, k.E}},
                                         {"linear.weight", {k.O, k.D * k.H}},
                                         {"linear.bias", {k.O}}};
  for (std::int64_t l = 0; l < k.L; ++l) {
    for (const std::string sfx : {"", "_reverse"}) {
      if (sfx == "_reverse" && !k.bidir) continue;
      const std::string n = "_l" + std::to_string(l) + sfx;
      params["lstm.weight_ih" + n] = {4 * k.H, l == 0 ? k.E : k.D * k.H};
      params["lstm.weight_hh" + n] = {4 * k.H, k.H};
      params["lstm.bias_ih" + n] = {4 * k.H};
      params["lstm.bias_hh" + n] = {4 * k.H};
    }
  }
  return params;
}

// Every tensor the fixture documents: the parameters, their gradients and two Adam steps, the
// inputs and every intermediate output.
std::map<std::string, Shape> lstm_fixture_names(const LstmConfig& k,
                                                const std::map<std::string, Shape>& params) {
  std::map<std::string, Shape> expected;
  for (const auto& [n, s] : params) {
    for (const std::string prefix : {"", "grad.", "adam1.", "adam2."})
      expected[prefix + n] = s;
  }
  const Shape bt = k.batch_first ? Shape{k.B, k.T} : Shape{k.T, k.B};
  expected["input.tokens"] = bt;
  expected["input.labels"] = {k.B, k.O};
  expected["out.embedding"] = {bt[0], bt[1], k.E};
  expected["out.lstm"] = {bt[0], bt[1], k.D * k.H};
  expected["out.h_n"] = {k.L * k.D, k.B, k.H};
  expected["out.c_n"] = {k.L * k.D, k.B, k.H};
  expected["out.logits"] = {k.B, k.O};
  expected["out.loss"] = {};
  return expected;
}

// out.embedding is a row lookup of embedding.weight.
void expect_embedding_lookup(const SafetensorsContents& c, const LstmConfig& k) {
  const auto tokens = as_double(c.at("input.tokens"));
  const auto emb_w = as_double(c.at("embedding.weight")), emb = as_double(c.at("out.embedding"));
  for (std::int64_t b = 0; b < k.B; ++b) {
    for (std::int64_t t = 0; t < k.T; ++t) {
      const auto tok = static_cast<std::int64_t>(tokens[k.bt(b, t)]);
      ASSERT_TRUE(tok >= 0 && tok < k.V);
      for (std::int64_t e = 0; e < k.E; ++e)
        EXPECT_EQ(emb[k.bt(b, t) * k.E + e], emb_w[tok * k.E + e]);
    }
  }
}

// h_n's last layer: forward direction = output at t = T-1, reverse = output at t = 0. The Linear
// sees the last timestep of the output sequence, or the concat of h_n's last layer; the loss is
// the mean BCE with logits of its output.
void expect_lstm_head_and_loss(const SafetensorsContents& c, const LstmConfig& k) {
  const auto labels = as_double(c.at("input.labels"));
  const auto seq = as_double(c.at("out.lstm")), h_n = as_double(c.at("out.h_n"));
  const auto lin_w = as_double(c.at("linear.weight")), lin_b = as_double(c.at("linear.bias"));
  const auto logits = as_double(c.at("out.logits"));
  const std::int64_t B = k.B, T = k.T, H = k.H, D = k.D, L = k.L, O = k.O;
  const auto h_at = [&](std::int64_t layer_dir, std::int64_t b, std::int64_t j) {
    return h_n[(layer_dir * B + b) * H + j];
  };
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t j = 0; j < H; ++j) {
      EXPECT_NEAR(h_at((L - 1) * D, b, j), seq[k.bt(b, T - 1) * D * H + j], k.tol);
      if (k.bidir) {
        EXPECT_NEAR(h_at(L * D - 1, b, j), seq[k.bt(b, 0) * D * H + H + j], k.tol);
      }
    }
  }
  double loss = 0;
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t o = 0; o < O; ++o) {
      double z = lin_b[o];
      for (std::int64_t j = 0; j < D * H; ++j) {
        const double feat =
            k.head_last ? seq[k.bt(b, T - 1) * D * H + j] : h_at((L - 1) * D + j / H, b, j % H);
        z += lin_w[o * D * H + j] * feat;
      }
      EXPECT_NEAR(z, logits[b * O + o], k.tol) << "logit " << b;
      loss += bce_with_logits(logits[b * O + o], labels[b * O + o]) / static_cast<double>(B * O);
    }
  }
  EXPECT_NEAR(loss, as_double(c.at("out.loss"))[0], k.tol);
}

// Adam's first step moves each weight by lr * g / (|g| + eps) (m-hat = g, v-hat = g^2).
void expect_adam_first_step(const SafetensorsContents& c, const LstmConfig& k,
                            const std::map<std::string, Shape>& params) {
  for (const auto& [n, s] : params) {
    const auto p = as_double(c.at(n)), g = as_double(c.at("grad." + n));
    const auto p1 = as_double(c.at("adam1." + n));
    for (std::size_t i = 0; i < p.size(); ++i) {
      EXPECT_NEAR(p1[i], p[i] - k.lr * g[i] / (std::abs(g[i]) + 1e-8), k.tol)
          << n << "[" << i << "]";
    }
  }
}

// padding_idx: the row is zero, gets no gradient, and Adam leaves it at zero.
void expect_padding_row_stays_zero(const SafetensorsContents& c, const LstmConfig& k) {
  const auto tokens = as_double(c.at("input.tokens"));
  const std::int64_t pad = *k.padding_idx;
  EXPECT_TRUE(std::count(tokens.begin(), tokens.end(), static_cast<double>(pad)) > 0);
  for (const std::string prefix : {"", "grad.", "adam2."}) {
    const auto w = as_double(c.at(prefix + "embedding.weight"));
    for (std::int64_t e = 0; e < k.E; ++e)
      EXPECT_EQ(w[pad * k.E + e], 0.0) << prefix;
  }
}

class LstmFixture : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(LstmFixture, HoldsTheDocumentedTensorsAndWiring) {
  const auto c = load_safetensors(golden(GetParam()));
  const LstmConfig k = parse_config(c);
  const std::map<std::string, Shape> params = lstm_model_params(k);
  expect_names(c, lstm_fixture_names(k, params), k.dtype, {{"input.tokens", DType::Int64}});
  if (HasFailure()) return;

  ASSERT_NO_FATAL_FAILURE(expect_embedding_lookup(c, k));
  expect_lstm_head_and_loss(c, k);
  expect_adam_first_step(c, k, params);
  if (k.padding_idx) expect_padding_row_stays_zero(c, k);
}

INSTANTIATE_TEST_SUITE_P(Golden, LstmFixture,
                         ::testing::Values("lstm_basic", "lstm_2layer", "lstm_bidir",
                                           "lstm_padding", "lstm_bidir2_hn", "lstm_basic_f64"));

TEST(GoldenLosses, HoldTheDocumentedTensorsAndValues) {
  const auto c = load_safetensors(golden("losses"));
  const std::map<std::string, Shape> inputs = {{"bce_with_logits", {2, 5}},
                                               {"bce", {2, 5}},
                                               {"bce_edge", {4}},
                                               {"cross_entropy", {4, 3}},
                                               {"mse", {2, 3}}};
  std::map<std::string, Shape> expected;
  for (const auto& [loss, shape] : inputs) {
    expected[loss + ".input"] = expected[loss + ".grad_mean"] = expected[loss + ".grad_sum"] =
        shape;
    expected[loss + ".target"] = loss == "cross_entropy" ? Shape{shape[0]} : shape;
    expected[loss + ".mean"] = expected[loss + ".sum"] = {};
  }
  expect_names(c, expected, DType::Float32, {{"cross_entropy.target", DType::Int64}});
  if (HasFailure()) return;

  // Recompute the BCEWithLogits, MSE and CrossEntropy means in double (|logit| up to 50).
  const auto x = as_double(c.at("bce_with_logits.input"));
  const auto y = as_double(c.at("bce_with_logits.target"));
  double bce = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    bce += bce_with_logits(x[i], y[i]) / x.size();
  EXPECT_NEAR(bce, as_double(c.at("bce_with_logits.mean"))[0], 1e-5 * bce);
  const auto mi = as_double(c.at("mse.input")), mt = as_double(c.at("mse.target"));
  double mse = 0;
  for (std::size_t i = 0; i < mi.size(); ++i)
    mse += (mi[i] - mt[i]) * (mi[i] - mt[i]) / mi.size();
  EXPECT_NEAR(mse, as_double(c.at("mse.mean"))[0], 1e-6);
  const auto ce_x = as_double(c.at("cross_entropy.input"));
  const auto ce_t = as_double(c.at("cross_entropy.target"));
  double ce_sum = 0;
  for (std::size_t r = 0; r < 4; ++r) {
    const double m = std::max({ce_x[3 * r], ce_x[3 * r + 1], ce_x[3 * r + 2]});
    double s = 0;
    for (int k = 0; k < 3; ++k)
      s += std::exp(ce_x[3 * r + k] - m);
    ce_sum += m + std::log(s) - ce_x[3 * r + static_cast<std::size_t>(ce_t[r])];
  }
  EXPECT_NEAR(ce_sum, as_double(c.at("cross_entropy.sum"))[0], 1e-5 * ce_sum);
}

TEST(GoldenOptim, HoldsTheDocumentedTensorsAndValues) {
  const auto c = load_safetensors(golden("optim"));
  std::map<std::string, Shape> expected = {
      {"param.init", {2, 3}}, {"clip.grad_a", {3}}, {"clip.grad_b", {2, 2}}};
  for (const std::string k : {"1", "2", "3"}) {
    expected["grad.step" + k] = {2, 3};
    for (const std::string opt :
         {"sgd", "sgd_momentum", "sgd_nesterov", "adam", "adam_l2", "adamw"})
      expected[opt + ".step" + k] = {2, 3};
  }
  for (const std::string tag : {"clipped", "unclipped"}) {
    expected["clip." + tag + ".total_norm"] = {};
    expected["clip." + tag + ".grad_a"] = {3};
    expected["clip." + tag + ".grad_b"] = {2, 2};
  }
  expect_names(c, expected, DType::Float32);
  if (HasFailure()) return;

  const auto p0 = as_double(c.at("param.init")), g1 = as_double(c.at("grad.step1"));
  const auto sgd1 = as_double(c.at("sgd.step1"));
  for (std::size_t i = 0; i < p0.size(); ++i)
    EXPECT_NEAR(sgd1[i], p0[i] - 0.1 * g1[i], 1e-6);

  const auto a = as_double(c.at("clip.grad_a")), b = as_double(c.at("clip.grad_b"));
  double norm = 0;
  for (double v : a)
    norm += v * v;
  for (double v : b)
    norm += v * v;
  norm = std::sqrt(norm);
  ASSERT_GT(norm, 1.0);  // so that max_norm 1 really clips
  EXPECT_NEAR(as_double(c.at("clip.clipped.total_norm"))[0], norm, 1e-5);
  const auto ca = as_double(c.at("clip.clipped.grad_a"));
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(ca[i], a[i] / (norm + 1e-6), 1e-6);
  EXPECT_EQ(as_double(c.at("clip.unclipped.grad_b")), b);
}
