// tests/nn/lstm_golden_test.cpp: loom's LSTM against PyTorch's, on the golden fixtures.
//
// For each model fixture of tests/reference/golden/ (written by tests/reference/make_golden.py:
// Embedding -> LSTM -> Linear -> BCEWithLogits, see tests/reference/README.md) and for both LSTM
// implementations: load the fixture's parameters into an LSTM module by PyTorch's names, run
// the same forward, and compare the embedding output, the LSTM output, h_n, c_n, the logits,
// the loss and every parameter's gradient with PyTorch's, to 1e-5 (float32; 1e-10 for the
// float64 fixture).
//
// The embedding, linear head and loss around the LSTM are written here with autograd ops
// (index_select, matmul, a stable BCEWithLogits) so that this file tests the LSTM and nothing
// else; nn/'s own layers have their own golden tests. Then two steps of nn/'s Adam against the
// fixture's adam1.* / adam2.* (the Adam-after-LSTM check of the issue).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "autograd/functions.h"
#include "nn/lstm.h"
#include "nn/optim/adam.h"
#include "nn/safetensors.h"

namespace {

using loom::DType;
using loom::Tensor;
using loom::Variable;
using loom::nn::LstmImpl;

std::string golden(const std::string& name) {
  return std::string(LOOM_SOURCE_DIR) + "/tests/reference/golden/" + name + ".safetensors";
}

Tensor to_tensor(const loom::nn::TensorRecord& r) {
  const loom::Shape shape(r.shape.begin(), r.shape.end());
  switch (r.dtype) {
    case DType::Float32:
      return loom::from_vector(loom::nn::record_values<float>(r), shape);
    case DType::Float64:
      return loom::from_vector(loom::nn::record_values<double>(r), shape);
    case DType::Int64:
      return loom::from_vector(loom::nn::record_values<int64_t>(r), shape);
    default:
      LOOM_FAIL("unexpected dtype in fixture tensor ", r.name);
  }
}

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double d = std::abs(g[i] - w[i]);
    if (d > worst) worst = d, at = i;
  }
  EXPECT_LE(worst, tol) << what << ": element " << at << " is " << g[at] << ", PyTorch has "
                        << w[at];
}

// mean over elements of max(z, 0) - z*y + log(1 + exp(-|z|)): BCEWithLogits, stable for any z.
Variable bce_with_logits(const Variable& z, const Tensor& y) {
  const Variable abs_z = relu(z) + relu(-z);
  return mean(relu(z) - z * Variable(y) + log(1.0 + exp(-abs_z)));
}

// The fixture's model: its parameters (loaded by PyTorch's names) and its forward.
struct GoldenModel {
  loom::nn::SafetensorsContents file;
  nlohmann::json cfg;
  std::unique_ptr<loom::nn::LSTM> lstm;
  Variable table, lin_w, lin_b;  // embedding.weight, linear.weight, linear.bias

  GoldenModel(const std::string& fixture, LstmImpl impl)
      : file(loom::nn::load_safetensors(golden(fixture))),
        cfg(nlohmann::json::parse(file.metadata.at("config"))) {
    const int64_t L = cfg["layers"], H = cfg["hidden"], E = cfg["embed"];
    lstm = std::make_unique<loom::nn::LSTM>(loom::nn::LSTMOptions(E, H)
                                                .num_layers(L)
                                                .bidirectional(cfg["bidirectional"])
                                                .batch_first(cfg["batch_first"])
                                                .impl(impl));
    if (f64()) lstm->to(DType::Float64);
    loom::nn::StateDict sd;
    for (const auto& [name, p] : lstm->named_parameters())
      sd.emplace_back(name, get("lstm." + name));
    lstm->load_state_dict(sd);
    table = Variable(get("embedding.weight"), true);
    lin_w = Variable(get("linear.weight"), true);
    lin_b = Variable(get("linear.bias"), true);
  }
  bool f64() const { return cfg["dtype"] == "float64"; }
  Tensor get(const std::string& name) const { return to_tensor(file.at(name)); }
  // Every parameter under its PyTorch name, in the fixture's "grad." / "adam1." naming.
  std::vector<std::pair<std::string, Variable>> params() const {
    std::vector<std::pair<std::string, Variable>> v{{"embedding.weight", table}};
    for (const auto& [name, p] : lstm->named_parameters())
      v.emplace_back("lstm." + name, p);
    v.emplace_back("linear.weight", lin_w);
    v.emplace_back("linear.bias", lin_b);
    return v;
  }

  struct Forward {
    Variable emb, logits, loss;
    loom::nn::LstmOutput y;
  };
  Forward forward() const {
    const bool bf = cfg["batch_first"], bidir = cfg["bidirectional"];
    const int64_t E = cfg["embed"];
    Forward f;
    // Embedding: rows of the table; a padding_idx row gets no gradient (masked out).
    const Tensor tokens = get("input.tokens");  // [B, T] or [T, B]
    f.emb = reshape(index_select(table, 0, tokens.reshape({tokens.numel()})),
                    {tokens.size(0), tokens.size(1), E});
    if (!cfg["padding_idx"].is_null()) {
      const Tensor keep =
          loom::ne(tokens, loom::full_like(tokens, cfg["padding_idx"].get<double>()))
              .to(table.dtype())
              .unsqueeze(2);
      f.emb = f.emb * Variable(keep);
    }
    f.y = lstm->forward_full(f.emb);
    const Variable& out = f.y.output;
    Variable feat;  // [B, D*H]
    if (cfg["head"] == "last") {
      feat = bf ? select(out, 1, out.size(1) - 1) : select(out, 0, out.size(0) - 1);
    } else {
      const int64_t n = f.y.h_n.size(0);
      feat = bidir ? loom::concat({select(f.y.h_n, 0, n - 2), select(f.y.h_n, 0, n - 1)}, 1)
                   : select(f.y.h_n, 0, n - 1);
    }
    f.logits = matmul(feat, transpose(lin_w, 0, 1)) + lin_b;
    f.loss = bce_with_logits(f.logits, get("input.labels"));
    return f;
  }
};

struct Case {
  std::string fixture;
  LstmImpl impl;
};

class LstmGolden : public ::testing::TestWithParam<Case> {};

TEST_P(LstmGolden, ForwardAndEveryGradientMatchPyTorch) {
  const GoldenModel m(GetParam().fixture, GetParam().impl);
  const double tol = m.f64() ? 1e-10 : 1e-5;
  const GoldenModel::Forward f = m.forward();
  f.loss.backward();
  expect_close(f.emb.data(), m.get("out.embedding"), tol, "embedding output");
  expect_close(f.y.output.data(), m.get("out.lstm"), tol, "LSTM output");
  expect_close(f.y.h_n.data(), m.get("out.h_n"), tol, "h_n");
  expect_close(f.y.c_n.data(), m.get("out.c_n"), tol, "c_n");
  expect_close(f.logits.data(), m.get("out.logits"), tol, "logits");
  expect_close(f.loss.data(), m.get("out.loss"), tol, "loss");
  for (const auto& [name, p] : m.params())
    expect_close(p.grad(), m.get("grad." + name), tol, "grad of " + name);
}

// Two Adam steps (nn/optim/adam.h, lr from the fixture) on the same batch, the second with the
// gradient recomputed at the first step's parameters: every parameter matches PyTorch's.
TEST_P(LstmGolden, TwoAdamStepsMatchPyTorch) {
  const GoldenModel m(GetParam().fixture, GetParam().impl);
  const double tol = m.f64() ? 1e-10 : 1e-5;
  loom::nn::optim::Adam adam(m.params(), loom::nn::optim::AdamOptions(m.cfg["lr"].get<double>()));
  for (const char* stage : {"adam1.", "adam2."}) {
    adam.zero_grad();
    m.forward().loss.backward();
    adam.step();
    for (const auto& [name, p] : m.params())
      expect_close(p.data(), m.get(stage + name), tol, stage + name);
  }
}

std::vector<Case> cases() {
  std::vector<Case> v;
  for (const char* f : {"lstm_basic", "lstm_2layer", "lstm_bidir", "lstm_padding", "lstm_bidir2_hn",
                        "lstm_basic_f64"})
    for (LstmImpl impl : {LstmImpl::Composed, LstmImpl::Fused})
      v.push_back({f, impl});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Lab04, LstmGolden, ::testing::ValuesIn(cases()), [](const auto& info) {
  return info.param.fixture + (info.param.impl == LstmImpl::Fused ? "_fused" : "_composed");
});

}  // namespace
