// tests/nn/serialize_test.cpp: checkpoints: a module (and an optimizer) saved and loaded back,
// a PyTorch-written state_dict (the golden files) loaded into loom modules, and the errors for
// a file that does not match the model.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdio>

#include "autograd/functions.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/optim/adam.h"
#include "nn/optim/sgd.h"
#include "nn/serialize.h"
#include "nn_test_util.h"
#include "tests/common/error_of.h"

using namespace loom;
using namespace loom::nn;
using loom::nn::testing::all_close;
using loom::nn::testing::Golden;
using loom::test::error_of;

namespace {

// The golden model without its LSTM: the names torch gives "embedding.*" and "linear.*".
struct Head : Module {
  std::shared_ptr<Embedding> embedding;
  std::shared_ptr<Linear> linear;
  Head(int64_t V, int64_t E, int64_t F, Generator& gen) : Module("Head") {
    embedding =
        register_module("embedding", std::make_shared<Embedding>(EmbeddingOptions(V, E), gen));
    linear = register_module("linear", std::make_shared<Linear>(LinearOptions(F, 1), gen));
  }
};

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "loom_" + name + "_" + std::to_string(::getpid()) + ".safetensors";
}

}  // namespace

TEST(Serialize, ModuleRoundTripWithMetadata) {
  Generator g1(50), g2(51);
  Head a(7, 5, 4, g1), b(7, 5, 4, g2);
  const std::string path = temp_path("roundtrip");
  save(a, path, {{"epoch", "3"}});
  const auto meta = load(b, path);
  EXPECT_EQ(meta.at("epoch"), "3");
  EXPECT_EQ(meta.at("format"), "loom-checkpoint-1");
  for (const auto& [name, t] : a.state_dict())
    EXPECT_TRUE(all_close(t, *find_tensor(b.state_dict(), name), 0, 0)) << name;
  // The file holds exactly torch's names, readable with the record-level reader.
  const SafetensorsContents file = load_safetensors(path);
  EXPECT_NE(file.find("embedding.weight"), nullptr);
  EXPECT_NE(file.find("linear.bias"), nullptr);
  EXPECT_EQ(file.tensors.size(), 3u);
  std::remove(path.c_str());
}

// A state_dict written by PyTorch (the golden file also holds inputs, outputs and gradients, so
// the load is not strict) loads into loom under the same names and reproduces torch's values.
TEST(Serialize, LoadsTorchWrittenStateDict) {
  Generator gen(52);
  Head head(7, 5, 4, gen);
  const std::string path = loom::nn::testing::golden_path("lstm_basic");
  load(head, path, /*strict=*/false);
  const Golden g("lstm_basic");
  EXPECT_TRUE(all_close(head.embedding->weight.data(), g["embedding.weight"], 0, 0));
  EXPECT_TRUE(all_close(head.embedding->forward(g["input.tokens"]).data(), g["out.embedding"]));
  const Tensor seq = g["out.lstm"];
  const Variable logits =
      head.linear->forward(Variable(seq.select(1, seq.size(1) - 1).contiguous()));
  EXPECT_TRUE(all_close(logits.data(), g["out.logits"]));
  // Strict, the LSTM's tensors (and the fixtures' extra entries) are unexpected.
  EXPECT_NE(error_of([&] { load(head, path); }).find("unexpected tensor"), std::string::npos);
}

TEST(Serialize, MismatchedOrBrokenFilesGiveErrorsNamingTheTensor) {
  Generator gen(53);
  Head a(7, 5, 4, gen), wider(7, 6, 4, gen);
  const std::string path = temp_path("mismatch");
  save(a, path);
  const std::string msg = error_of([&] { load(wider, path); });
  EXPECT_NE(msg.find("'embedding.weight' has shape [7, 5]"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  // A truncated file is refused by the reader, never read past its end.
  {
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 0, SEEK_END);
    const long size = std::ftell(f);
    std::fclose(f);
    ASSERT_EQ(::truncate(path.c_str(), size - 8), 0);
  }
  EXPECT_THROW(load(a, path), Error);
  std::remove(path.c_str());
  EXPECT_THROW(load(a, temp_path("does_not_exist")), Error);
}

// Save model + Adam after 2 steps, load both into fresh objects, step twice more: the result
// equals 4 uninterrupted steps (what --resume needs).
TEST(Serialize, ModelAndOptimizerResume) {
  const Tensor ids = from_vector<int64_t>({1, 2, 3, 4, 5, 6, 0, 1}, {2, 4});
  const Tensor y = tensor({1.0, 0.0}, {2, 1});
  const auto train_step = [&](Head& h, optim::Optimizer& opt) {
    opt.zero_grad();
    const Variable logits = h.linear->forward(mean(h.embedding->forward(ids), 1));
    bce_with_logits(logits, y).backward();
    opt.step();
  };
  Generator g1(54);
  Head ref(7, 5, 5, g1);
  optim::Adam ref_opt(ref.named_parameters(), optim::AdamOptions(0.05));
  for (int s = 0; s < 4; ++s)
    train_step(ref, ref_opt);

  Generator g2(54), g3(99);
  Head first(7, 5, 5, g2);
  const std::string path = temp_path("resume");
  {
    optim::Adam opt(first.named_parameters(), optim::AdamOptions(0.05));
    for (int s = 0; s < 2; ++s)
      train_step(first, opt);
    save(first, opt, path, {{"epoch", "2"}});
  }
  const SafetensorsContents file = load_safetensors(path);
  EXPECT_NE(file.find("optim.linear.weight.exp_avg_sq"), nullptr);
  EXPECT_EQ(file.find("optim.linear.weight.step")->dtype, DType::Int64);
  EXPECT_EQ(file.metadata.at("optim.type"), "Adam");

  Head resumed(7, 5, 5, g3);
  optim::Adam opt(resumed.named_parameters(), optim::AdamOptions(0.5));  // lr comes from the file
  const auto meta = load(resumed, opt, path);
  EXPECT_EQ(meta.at("epoch"), "2");
  EXPECT_DOUBLE_EQ(opt.lr(), 0.05);
  for (int s = 0; s < 2; ++s)
    train_step(resumed, opt);
  for (const auto& [name, t] : ref.state_dict())
    EXPECT_TRUE(all_close(t, *find_tensor(resumed.state_dict(), name), 0, 0)) << name;

  // The model part of a combined file loads on its own too; a wrong optimizer type does not.
  Generator g4(7);
  Head plain(7, 5, 5, g4);
  load(plain, path);
  optim::SGD sgd(plain.named_parameters(), optim::SGDOptions(0.1));
  EXPECT_NE(error_of([&] { load(plain, sgd, path); }).find("holds Adam state"), std::string::npos);
  std::remove(path.c_str());
}
