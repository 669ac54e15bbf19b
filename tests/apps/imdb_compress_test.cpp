// tests/apps/imdb_compress_test.cpp: pruning and distillation. Structured pruning keeps the
// function of the kept units (removing units whose outgoing weights are zero leaves every output
// as it was, for both poolings, with and without the n-gram bag, and both LSTM implementations);
// the cubic schedule and the magnitude mask; `imdb prune` and `imdb distill` end to end on a tiny
// dataset, and their errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include <nlohmann/json.hpp>

#include "apps/imdb/checkpoint_format.h"
#include "apps/imdb/model.h"
#include "apps/imdb/prune.h"
#include "autograd/grad_mode.h"
#include "nn/serialize.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tests/apps/app_fixture.h"

namespace loom::imdb {
namespace {

using namespace testing_support;

Config tiny_config(const std::string& pooling, const std::string& impl, int64_t buckets = 0) {
  Config c;
  c.ngram_buckets = buckets;  // the n-gram bag's head columns must survive the removal
  c.ngram_dim = 3;
  c.vocab = 30;
  c.embed = 6;
  c.lstm_size = 7;
  c.max_len = 9;
  c.pooling = pooling;
  c.lstm_impl = impl;
  return c;
}

nn::StateDict parameters_of(const ImdbModel& m) {
  nn::StateDict p;
  for (const auto& [name, v] : m.named_parameters())
    p.emplace_back(name, v.data());
  return p;
}

// Logits of `m` (eval mode) for a fixed batch of token ids.
std::vector<float> logits_of(ImdbModel& m, const Config& c) {
  std::mt19937 rng(7);
  std::vector<int32_t> ids(static_cast<size_t>(5 * c.max_len));
  for (int32_t& id : ids)
    id = static_cast<int32_t>(rng() % static_cast<uint32_t>(c.vocab));
  const Tensor tokens = from_vector<int32_t>(ids, {5, c.max_len});
  m.set_training(false);
  NoGradGuard no_grad;
  return m.forward(tokens).data().to_vector<float>();
}

// The model without units `removed`, built from `m`'s parameters.
std::vector<float> logits_after_removal(ImdbModel& m, const Config& c,
                                        const std::vector<int64_t>& kept) {
  Config small = c;
  small.lstm_size = static_cast<int64_t>(kept.size());
  ImdbModel s(small, kCPU);
  nn::SafetensorsContents file;
  for (const auto& [name, t] : remove_hidden_units(parameters_of(m), c, kept))
    file.tensors.push_back(nn::tensor_to_record(name, t));
  s.load_state(file, "test", false);
  return logits_of(s, small);
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i)
    d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
  return d;
}

TEST(StructuredPruning, RemovingUnitsWithZeroOutgoingWeightsKeepsTheOutputs) {
  const std::vector<int64_t> removed = {0, 3, 5}, kept = {1, 2, 4, 6};
  for (const char* pooling : {"last", "max-mean", "max-mean + bag"}) {
    for (const char* impl : {"composed", "fused"}) {
      SCOPED_TRACE(std::string(pooling) + " " + impl);
      const bool bag = std::string(pooling) == "max-mean + bag";
      const Config c = tiny_config(bag ? "max-mean" : pooling, impl, bag ? 11 : 0);
      manual_seed(3);
      ImdbModel m(c, kCPU);
      // Control: with their outgoing weights in place, the units matter.
      EXPECT_GT(max_diff(logits_of(m, c), logits_after_removal(m, c, kept)), 1e-4);
      // Zero only what reads the removed units (W_hh's columns, the head's columns); their
      // incoming weights stay, so they still compute a state that nothing reads.
      const int64_t H = c.lstm_size, lstm_cols = c.pooling == "max-mean" ? 2 * H : H;
      const int64_t F = lstm_cols + (bag ? c.ngram_dim : 0);  // the bag's columns stay
      std::vector<float> whh(static_cast<size_t>(4 * H * H), 1.0f), head(F, 1.0f);
      for (int64_t k : removed) {
        for (int64_t row = 0; row < 4 * H; ++row)
          whh[static_cast<size_t>(row * H + k)] = 0;
        head[static_cast<size_t>(k)] = 0;
        if (lstm_cols == 2 * H) head[static_cast<size_t>(H + k)] = 0;
      }
      for (const auto& [name, v] : m.named_parameters()) {
        if (name == "lstm.weight_hh_l0")
          v.data().copy_(mul(v.data(), from_vector<float>(whh, {4 * H, H})));
        if (name == "linear.weight")
          v.data().copy_(mul(v.data(), from_vector<float>(head, {1, F})));
      }
      EXPECT_LT(max_diff(logits_of(m, c), logits_after_removal(m, c, kept)), 1e-6);
    }
  }
}

TEST(StructuredPruning, MasksZeroExactlyTheRemovedUnits) {
  const Config c = tiny_config("max-mean", "fused");
  manual_seed(4);
  ImdbModel m(c, kCPU);
  const nn::StateDict masks = hidden_unit_masks(parameters_of(m), c, {2, 6});
  for (const auto& [name, v] : m.named_parameters())
    for (const auto& [mask_name, mask] : masks)
      if (name == mask_name) v.data().copy_(mul(v.data(), mask));
  const std::vector<double> norms = hidden_unit_norms(parameters_of(m), c);
  for (int64_t k = 0; k < c.lstm_size; ++k) {
    if (k == 2 || k == 6)
      EXPECT_EQ(norms[static_cast<size_t>(k)], 0.0) << k;
    else
      EXPECT_GT(norms[static_cast<size_t>(k)], 0.0) << k;
  }
  Config two_layers = c;
  two_layers.lstm_layers = 2;
  EXPECT_THROW(hidden_unit_norms(parameters_of(m), two_layers), Error);
}

TEST(Pruning, CubicScheduleOfZhuAndGupta) {
  EXPECT_DOUBLE_EQ(cubic_sparsity(0.8, 0, 100), 0.0);
  EXPECT_DOUBLE_EQ(cubic_sparsity(0.8, 50, 100), 0.8 * (1 - 0.125));
  EXPECT_DOUBLE_EQ(cubic_sparsity(0.8, 100, 100), 0.8);
  EXPECT_DOUBLE_EQ(cubic_sparsity(0.8, 150, 100), 0.8);
  EXPECT_DOUBLE_EQ(cubic_sparsity(0.8, 0, 0), 0.8);  // no schedule: at once
  for (int64_t t = 1; t <= 100; ++t)
    EXPECT_GE(cubic_sparsity(0.8, t, 100), cubic_sparsity(0.8, t - 1, 100));
}

TEST(Pruning, MagnitudeMaskDropsTheSmallest) {
  const Tensor w = from_vector<float>({0.5f, -0.1f, 2.0f, -3.0f, 0.05f, 1.0f}, {2, 3});
  const std::vector<float> m = magnitude_mask(w, 0.5).to_vector<float>();
  EXPECT_EQ(m, (std::vector<float>{0, 0, 1, 1, 0, 1}));
  EXPECT_EQ(magnitude_mask(w, 0.0).to_vector<float>(), std::vector<float>(6, 1.0f));
  EXPECT_THROW(magnitude_mask(w, 1.0), Error);
}

class ImdbCompressCommands : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(temp_dir("compress"));
    make_tiny_aclimdb(*root_, 20);
    const RunResult r = run_imdb("train --data " + data() + " --out " + *root_ +
                                 "/run --epochs 2 --lstm fused " + tiny_model_flags());
    ASSERT_EQ(r.status, 0) << r.output;
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*root_);
    delete root_;
  }
  static std::string root() { return *root_; }
  static std::string data() { return *root_ + "/aclImdb"; }
  static std::string checkpoint() { return *root_ + "/run/best.safetensors"; }
  static nlohmann::json json_of(const std::string& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
  }
  static std::string* root_;
};
std::string* ImdbCompressCommands::root_ = nullptr;

TEST_F(ImdbCompressCommands, StructuredPruningShrinksTheModel) {
  const std::string out = root() + "/s50.safetensors";
  const RunResult r = run_imdb("prune --checkpoint " + checkpoint() +
                               " --sparsity 0.5 --structured --finetune-epochs 1 --out " + out +
                               " --json " + root() + "/s50.json");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = json_of(root() + "/s50.json");
  EXPECT_EQ(j["lstm_size_before"], 8);
  EXPECT_EQ(j["lstm_size_after"], 4);
  EXPECT_LT(j["parameters_after"].get<int64_t>(), j["parameters_before"].get<int64_t>());
  EXPECT_EQ(load_checkpoint(out).config.lstm_size, 4);
  const RunResult e = run_imdb("eval --checkpoint " + out);
  EXPECT_EQ(e.status, 0) << e.output;
}

TEST_F(ImdbCompressCommands, UnstructuredPruningZeroesWeights) {
  const std::string out = root() + "/u75.safetensors";
  const RunResult r = run_imdb("prune --checkpoint " + checkpoint() +
                               " --sparsity 0.75 --unstructured --finetune-epochs 1 --out " + out +
                               " --json " + root() + "/u75.json");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = json_of(root() + "/u75.json");
  EXPECT_EQ(j["lstm_size_after"], 8);
  EXPECT_GE(j["prunable_zeros"].get<double>(), 0.75 * j["prunable_weights"].get<double>() - 3);
}

TEST_F(ImdbCompressCommands, DistilledAndAloneStudentsTrain) {
  for (const char* alpha : {"0.7", "0"}) {
    const std::string out = root() + "/student_" + alpha + ".safetensors";
    const RunResult r = run_imdb("distill --teacher " + checkpoint() +
                                 " --lstm-size 4 --epochs 1 --temperature 3 --alpha " + alpha +
                                 " --out " + out + " --json " + out + ".json");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(json_of(out + ".json")["student_lstm_size"], 4);
    EXPECT_EQ(load_checkpoint(out).config.lstm_size, 4);
  }
}

// The files written at the end get their folders at the start, and a path that cannot be
// written is refused before any training (distill ran to its end, then failed, once).
TEST_F(ImdbCompressCommands, OutputFoldersAreMadeAndBadPathsRefusedBeforeTheWork) {
  const std::string out = root() + "/new/folder/student.safetensors";
  const std::string json = root() + "/other/student.json";
  const RunResult r = run_imdb("distill --teacher " + checkpoint() +
                               " --lstm-size 4 --epochs 1 --out " + out + " --json " + json);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(out));
  EXPECT_TRUE(std::filesystem::exists(json));
  const std::string under_a_file = checkpoint() + "/x";  // a folder inside a regular file
  auto expect_refused = [](const std::string& args, const std::string& expected) {
    const RunResult bad = run_imdb(args);
    EXPECT_FALSE(bad.crashed) << bad.output;
    EXPECT_NE(bad.status, 0) << args;
    EXPECT_NE(bad.output.find(expected), std::string::npos) << args << "\n" << bad.output;
    EXPECT_EQ(bad.output.find("epoch 1"), std::string::npos) << "trained first:\n" << bad.output;
  };
  expect_refused("distill --teacher " + checkpoint() + " --lstm-size 4 --epochs 1 --out " +
                     under_a_file + "/s.safetensors",
                 "--out: cannot create the folder");
  expect_refused("distill --teacher " + checkpoint() + " --lstm-size 4 --epochs 1 --out " + out +
                     " --json " + under_a_file + "/s.json",
                 "--json: cannot create the folder");
  expect_refused("prune --checkpoint " + checkpoint() +
                     " --sparsity 0.5 --structured --finetune-epochs 1 --out " + under_a_file +
                     "/p.safetensors",
                 "--out: cannot create the folder");
  expect_refused("quantize --checkpoint " + checkpoint() + " --out " + under_a_file + "/q",
                 "--out: cannot create the folder");
}

TEST_F(ImdbCompressCommands, BadInputIsNamed) {
  const std::string ck = " --checkpoint " + checkpoint() + " --out " + root() + "/x.safetensors";
  auto expect_error = [](const std::string& args, const std::string& expected) {
    const RunResult r = run_imdb(args);
    EXPECT_FALSE(r.crashed) << r.output;
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.output.find(expected), std::string::npos) << args << "\n" << r.output;
  };
  expect_error("prune --sparsity 0.5" + ck, "exactly one of --structured and --unstructured");
  expect_error("prune --sparsity 0.5 --structured --unstructured" + ck, "exactly one");
  expect_error("prune --sparsity 1 --structured" + ck, "--sparsity must be in [0, 1)");
  expect_error("distill --teacher " + checkpoint() + " --lstm-size 4 --temperature 0 --out x",
               "--temperature must be > 0");
  expect_error("distill --teacher " + checkpoint() + " --out x", "--lstm-size");
  // A bidirectional model cannot lose units structurally here: said before any work.
  const RunResult bi =
      run_imdb("train --data " + data() + " --out " + root() +
               "/bi --epochs 1 --bidirectional --lstm fused " + tiny_model_flags());
  ASSERT_EQ(bi.status, 0) << bi.output;
  expect_error("prune --sparsity 0.5 --structured --checkpoint " + root() +
                   "/bi/best.safetensors --out " + root() + "/y.safetensors",
               "use --unstructured");
}

}  // namespace
}  // namespace loom::imdb
