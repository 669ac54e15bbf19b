// tests/apps/imdb_e2e_test.cpp: train -> checkpoint -> resume -> eval -> predict, end to end,
// running the imdb binary on a tiny generated dataset (each test well under ten seconds).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "apps/imdb/metrics.h"
#include "nn/safetensors.h"
#include "tests/apps/app_fixture.h"

namespace loom::imdb {
namespace {

using namespace testing_support;
namespace fs = std::filesystem;

class ImdbEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(temp_dir("e2e"));
    make_tiny_aclimdb(*root_, 40);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  static std::string data() { return *root_ + "/aclImdb"; }
  static std::string out(const std::string& name) { return *root_ + "/" + name; }
  static std::string* root_;
};
std::string* ImdbEndToEnd::root_ = nullptr;

// Every tensor of two safetensors files, byte for byte.
void expect_same_tensors(const std::string& a, const std::string& b) {
  const nn::SafetensorsContents fa = nn::load_safetensors(a), fb = nn::load_safetensors(b);
  ASSERT_EQ(fa.tensors.size(), fb.tensors.size());
  for (const nn::TensorRecord& r : fa.tensors) {
    const nn::TensorRecord* s = fb.find(r.name);
    ASSERT_NE(s, nullptr) << r.name;
    EXPECT_EQ(r.shape, s->shape) << r.name;
    EXPECT_TRUE(r.bytes == s->bytes) << "tensor " << r.name << " differs";
  }
}

TEST_F(ImdbEndToEnd, TrainTwoEpochsThenEvalAndPredict) {
  const std::string o = out("train2");
  RunResult r =
      run_imdb("train --data " + data() + " --out " + o + " --epochs 2 " + tiny_model_flags());
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* f : {"config.json", "metrics.jsonl", "last.safetensors", "best.safetensors",
                        "epoch_001.safetensors", "epoch_002.safetensors"})
    EXPECT_TRUE(fs::exists(o + "/" + f)) << f;
  const std::vector<EpochMetrics> m = read_metrics(o + "/metrics.jsonl");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1].epoch, 2);
  EXPECT_GT(m[1].epoch_time_s, 0);
  EXPECT_GE(m[1].data_time_s, 0);
  EXPECT_LT(m[1].train_loss, m[0].train_loss + 0.05);  // learning, not diverging

  // The resolved config names the data it used and every hyperparameter.
  std::ifstream cfg(o + "/config.json");
  const nlohmann::json j = nlohmann::json::parse(cfg);
  EXPECT_EQ(j["data"], data());
  EXPECT_EQ(j["max_len"], 16);
  EXPECT_EQ(j["epochs"], 2);

  r = run_imdb("eval --checkpoint " + o + "/best.safetensors --json " + o + "/eval.json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("accuracy"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("confusion matrix"), std::string::npos) << r.output;
  std::ifstream ej(o + "/eval.json");
  const nlohmann::json e = nlohmann::json::parse(ej);
  EXPECT_EQ(e["n"], 32);  // 20% of 160 reviews
  const auto& cm = e["confusion"];
  EXPECT_EQ(cm["tp"].get<int>() + cm["tn"].get<int>() + cm["fp"].get<int>() + cm["fn"].get<int>(),
            32);

  r = run_imdb("eval --checkpoint " + o + "/best.safetensors --on test");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("reviews    80"), std::string::npos) << r.output;

  // predict: arguments, stdin, --file.
  r = run_imdb("predict --checkpoint " + o +
               "/best.safetensors 'a wonderful brilliant film' "
               "'an awful boring waste'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("wonderful"), std::string::npos);
  EXPECT_TRUE(r.output.find("positive") != std::string::npos ||
              r.output.find("negative") != std::string::npos);
  r = run_shell("printf 'great movie\\nworst plot\\n' | '" + std::string(LOOM_IMDB_BIN) +
                "' predict --checkpoint " + o + "/best.safetensors");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("great movie"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("worst plot"), std::string::npos) << r.output;
  std::ofstream(o + "/reviews.txt") << "loved it\nterrible\n\nexcellent and moving\n";
  r = run_imdb("predict --checkpoint " + o + "/best.safetensors --file " + o + "/reviews.txt");
  ASSERT_EQ(r.status, 0) << r.output;
  int lines = 0;
  for (size_t p = r.output.find('\t'); p != std::string::npos; p = r.output.find('\n', p + 1))
    if (r.output.find('\t', p) != std::string::npos) ++lines;
  EXPECT_GE(lines, 3) << r.output;
}

// --precision bf16 (bfloat16 GEMMs in the fused LSTM and the Linear, no loss scaler) learns the
// tiny dataset as fp32 does from the same seed: the same data, batches and dropout masks, so
// the runs differ only by bfloat16's rounding. Validation is 32 reviews (one is 3.1 points).
TEST_F(ImdbEndToEnd, Bf16TrainingConvergesLikeFp32) {
  const std::string flags = " --epochs 4 --patience 0 --lstm fused " + tiny_model_flags();
  const std::string a = out("fp32"), b = out("bf16");
  RunResult r = run_imdb("train --data " + data() + " --out " + a + flags);
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_imdb("train --data " + data() + " --out " + b + flags + " --precision bf16");
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream cfg(b + "/config.json");
  EXPECT_EQ(nlohmann::json::parse(cfg)["precision"], "bf16");
  std::ifstream lines(b + "/metrics.jsonl");
  const std::string text((std::istreambuf_iterator<char>(lines)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("loss_scale"), std::string::npos) << "bf16 has no loss scaler: " << text;

  const auto ma = read_metrics(a + "/metrics.jsonl"), mb = read_metrics(b + "/metrics.jsonl");
  ASSERT_EQ(ma.size(), 4u);
  ASSERT_EQ(mb.size(), 4u);
  std::printf("fp32 val acc %.3f loss %.4f | bf16 val acc %.3f loss %.4f\n", ma[3].val_acc,
              ma[3].val_loss, mb[3].val_acc, mb[3].val_loss);
  // Converges: the training loss falls, and validation gets most of the cue words.
  EXPECT_LT(mb[3].train_loss, mb[0].train_loss - 0.05);
  EXPECT_GE(mb[3].val_acc, 0.8);
  // Like fp32: within 2 reviews of its accuracy, and a validation loss within 0.05.
  EXPECT_NEAR(mb[3].val_acc, ma[3].val_acc, 2.0 / 32 + 1e-9);
  EXPECT_NEAR(mb[3].val_loss, ma[3].val_loss, 0.05);
  // ... but bfloat16 did run: the weights are not fp32's.
  const nn::SafetensorsContents fa = nn::load_safetensors(a + "/last.safetensors");
  const nn::SafetensorsContents fb = nn::load_safetensors(b + "/last.safetensors");
  const nn::TensorRecord* wa = fa.find("lstm.weight_hh_l0");
  const nn::TensorRecord* wb = fb.find("lstm.weight_hh_l0");
  ASSERT_TRUE(wa != nullptr && wb != nullptr);
  EXPECT_FALSE(wa->bytes == wb->bytes);
}

TEST_F(ImdbEndToEnd, InterruptedAndResumedRunEndsWithTheSameWeights) {
  const std::string a = out("straight"), b = out("interrupted");
  const std::string flags = " --epochs 3 " + tiny_model_flags();
  RunResult r = run_imdb("train --data " + data() + " --out " + a + flags);
  ASSERT_EQ(r.status, 0) << r.output;
  // 128 training rows / batch 16 = 8 steps per epoch: stop in the middle of epoch 2.
  r = run_imdb("train --data " + data() + " --out " + b + flags + " --stop-after-steps 11");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("--resume"), std::string::npos) << r.output;
  EXPECT_EQ(read_metrics(b + "/metrics.jsonl").size(), 1u);
  r = run_imdb("train --out " + b + " --resume --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("resuming at epoch 2, step 3"), std::string::npos) << r.output;
  expect_same_tensors(a + "/last.safetensors", b + "/last.safetensors");
  expect_same_tensors(a + "/best.safetensors", b + "/best.safetensors");
  const auto ma = read_metrics(a + "/metrics.jsonl"), mb = read_metrics(b + "/metrics.jsonl");
  ASSERT_EQ(ma.size(), mb.size());
  for (size_t i = 0; i < ma.size(); ++i)
    EXPECT_DOUBLE_EQ(ma[i].val_loss, mb[i].val_loss) << i;
  // A finished run resumed again has nothing left to do.
  r = run_imdb("train --out " + b + " --resume");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("already finished"), std::string::npos) << r.output;
}

TEST_F(ImdbEndToEnd, SigusrOneSavesACheckpointAndExitsCleanly) {
  const std::string o = out("signal");
  const std::string cmd = std::string("'") + LOOM_IMDB_BIN + "' train --data " + data() +
                          " --out " + o + " --epochs 100000 --patience 0 " + tiny_model_flags() +
                          " > " + o + ".log 2>&1";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait for the first epoch's checkpoint: the loop is then certainly running.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(o + "/epoch_001.safetensors") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::kill(pid, SIGUSR1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::ifstream log(o + ".log");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  ASSERT_TRUE(WIFEXITED(status)) << text;
  EXPECT_EQ(WEXITSTATUS(status), 0) << text;
  EXPECT_NE(text.find("stopped by SIGUSR1"), std::string::npos) << text;
  EXPECT_TRUE(fs::exists(o + "/last.safetensors"));
}

}  // namespace
}  // namespace loom::imdb
