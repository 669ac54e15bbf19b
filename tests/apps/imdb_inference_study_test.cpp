// tests/apps/imdb_inference_study_test.cpp: `imdb study --inference` end to end on a tiny
// dataset, and `imdb bench --model seq2cnn` (the Seq2CNN model on the inference path).
//
// The PyTorch rows run when /usr/bin/python3 has torch and are skipped otherwise: the test
// accepts either, but a skipped row must say why, and a row that ran must agree with loom's
// fp32 row on the same weights (same tensor bytes, accuracy within one review's flip per tie).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/imdb/checkpoint.h"
#include "apps/imdb/inference.h"
#include "apps/imdb/model.h"
#include "apps/imdb/prepare.h"
#include "autograd/grad_mode.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tests/apps/app_fixture.h"

namespace loom::imdb {
namespace {

using testing_support::run_imdb;
using testing_support::temp_dir;

nlohmann::json row(const nlohmann::json& report, const std::string& name) {
  for (const nlohmann::json& r : report.at("rows"))
    if (r.at("name") == name) return r;
  ADD_FAILURE() << "no row " << name;
  return {};
}

// A tiny dataset and a trained tiny LSTM, shared by the tests below.
struct TinyRun {
  std::string dir, data, fp32;
  explicit TinyRun(const std::string& name) : dir(temp_dir(name)) {
    testing_support::make_tiny_aclimdb(dir, 40);
    data = dir + "/aclImdb";
    const testing_support::RunResult r =
        run_imdb("train --data " + data + " --out " + dir + "/run --epochs 2 " +
                 testing_support::tiny_model_flags());
    EXPECT_EQ(r.status, 0) << r.output;
    fp32 = dir + "/run/best.safetensors";
  }
};

TEST(InferenceStudy, QuickRunMakesEveryRow) {
  const TinyRun t("inference_study");
  const std::string out = t.dir + "/study";
  const testing_support::RunResult r =
      run_imdb("study --inference --quick --make-missing --student-size 4 --checkpoint " + t.fp32 +
               " --data " + t.data + " --threads 1 --out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json report = nlohmann::json::parse(std::ifstream(out + "/report.json"));
  ASSERT_EQ(report.at("rows").size(), 7u);
  for (const char* name : {"fp32", "int8", "pruned", "student", "student_int8"}) {
    const nlohmann::json x = row(report, name);
    ASSERT_EQ(x.at("status"), "ran") << name << ": " << x.dump();
    EXPECT_GT(x.at("scored").get<int64_t>(), 0) << name;
    EXPECT_GE(x.at("accuracy").get<double>(), 0.0);
    EXPECT_LE(x.at("accuracy").get<double>(), 1.0);
    EXPECT_GT(x.at("p50_ms").get<double>(), 0.0) << name;
    EXPECT_GE(x.at("p90_ms").get<double>(), x.at("p50_ms").get<double>()) << name;
    EXPECT_GT(x.at("offline_per_s").get<double>(), 0.0) << name;
  }
  const int64_t fp32_bytes = row(report, "fp32").at("model_bytes");
  EXPECT_LT(row(report, "int8").at("model_bytes").get<int64_t>(), fp32_bytes);
  EXPECT_LT(row(report, "pruned").at("model_bytes").get<int64_t>(), fp32_bytes);
  EXPECT_LT(row(report, "student").at("model_bytes").get<int64_t>(), fp32_bytes);
  EXPECT_LT(row(report, "student_int8").at("model_bytes").get<int64_t>(),
            row(report, "student").at("model_bytes").get<int64_t>());
  // Every row scored the same rows.
  EXPECT_EQ(row(report, "int8").at("scored"), row(report, "fp32").at("scored"));
  EXPECT_EQ(row(report, "student").at("scored"), row(report, "fp32").at("scored"));
  for (const char* name : {"torch_fp32", "torch_int8"}) {
    const nlohmann::json x = row(report, name);
    if (x.at("status") == "ran") continue;
    EXPECT_EQ(x.at("status"), "skipped") << x.dump();
    EXPECT_FALSE(x.at("reason").get<std::string>().empty()) << name;
  }
  const nlohmann::json torch = row(report, "torch_fp32");
  if (torch.at("status") == "ran") {
    EXPECT_EQ(torch.at("model_bytes"), fp32_bytes) << "the same weights, the same bytes";
    const double n = row(report, "fp32").at("scored").get<double>();
    EXPECT_NEAR(torch.at("accuracy").get<double>(), row(report, "fp32").at("accuracy"), 1.5 / n);
  }
  std::ifstream md(out + "/report.md");
  const std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("| student_int8 |"), std::string::npos) << text;
  EXPECT_TRUE(std::filesystem::exists(out + "/int8.safetensors"));
}

TEST(InferenceStudy, RowsItCannotRunAreSkippedWithTheReason) {
  const TinyRun t("inference_study_skip");
  const std::string out = t.dir + "/study";
  testing_support::RunResult r =
      run_imdb("study --inference --quick --checkpoint " + t.fp32 + " --data " + t.data +
               " --threads 1 --python /nonexistent/python3 --out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json report = nlohmann::json::parse(std::ifstream(out + "/report.json"));
  EXPECT_EQ(row(report, "fp32").at("status"), "ran");
  EXPECT_EQ(row(report, "int8").at("status"), "ran");
  for (const char* name : {"pruned", "student", "student_int8", "torch_fp32", "torch_int8"}) {
    EXPECT_EQ(row(report, name).at("status"), "skipped") << name;
    EXPECT_FALSE(row(report, name).at("reason").get<std::string>().empty()) << name;
  }
  EXPECT_NE(row(report, "torch_fp32").at("reason").get<std::string>().find("/nonexistent"),
            std::string::npos);
  EXPECT_NE(row(report, "pruned").at("reason").get<std::string>().find("--make-missing"),
            std::string::npos);
  // A python that cannot import torch (here one that fails everything) skips the rows too.
  r = run_imdb("study --inference --quick --no-torch --checkpoint " + t.fp32 + " --data " + t.data +
               " --threads 1 --out " + out + "2");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json no_torch = nlohmann::json::parse(std::ifstream(out + "2/report.json"));
  EXPECT_EQ(row(no_torch, "torch_int8").at("reason"), "--no-torch");
  r = run_imdb("study --inference --quick --python /bin/false --checkpoint " + t.fp32 + " --data " +
               t.data + " --threads 1 --out " + out + "3");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json broken = nlohmann::json::parse(std::ifstream(out + "3/report.json"));
  EXPECT_EQ(row(broken, "torch_fp32").at("status"), "skipped");
  EXPECT_NE(row(broken, "torch_fp32").at("reason").get<std::string>().find("cannot import torch"),
            std::string::npos);

  r = run_imdb("study --inference --out " + out);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--checkpoint"), std::string::npos) << r.output;
  r = run_imdb("study --checkpoint " + t.fp32 + " --out " + out);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--inference"), std::string::npos) << r.output;
  r = run_imdb("study --inference --checkpoint " + t.fp32 + " --pruned " + t.dir +
               "/absent.safetensors --out " + out);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("absent.safetensors"), std::string::npos) << r.output;
}

// The Seq2CNN model on the inference path encodes as its training did (post-padding, unknown
// words at the last id) and gives the training forward's probability.
TEST(InferenceModel, Seq2CnnEncodesAsTrainingDid) {
  const std::string dir = temp_dir("inference_seq2cnn");
  Config c;
  apply_preset(c, "seq2cnn-small");
  c.vocab = 50;
  c.max_len = 12;
  c.embed = c.conv_channels = 8;
  manual_seed(3);
  ImdbModel model(c, kCPU);
  model.set_training(false);
  const data::Vocabulary vocab = data::Vocabulary::from_words({"wa", "wb", "wc"}, vocab_options(c));
  const std::string path = dir + "/s2c.safetensors";
  save_checkpoint(path, c, vocab, model, TrainState{});
  InferenceModel m(load_checkpoint(path), path);
  EXPECT_NE(m.describe().find("Seq2CNN"), std::string::npos) << m.describe();
  // "wa wb qq": wa and wb are words 1 and 2, qq is unknown (id 49), then padding at the end.
  std::vector<int32_t> ids(12, 0);
  ids[0] = 1, ids[1] = 2, ids[2] = 49;
  NoGradGuard no_grad;
  const float z = model.forward(from_vector<int32_t>(ids, {1, 12})).data().item<float>();
  EXPECT_NEAR(m.predict_text("WA wb, qq!"), 1.0f / (1.0f + std::exp(-z)), 1e-6f);
}

TEST(InferenceCli, BenchSeq2Cnn) {
  const std::string dir = temp_dir("bench_seq2cnn");
  testing_support::make_tiny_aclimdb(dir, 20);
  const std::string data = dir + "/aclImdb", ckpt = dir + "/run/best.safetensors";
  testing_support::RunResult r =
      run_imdb("train --model seq2cnn --data " + data + " --out " + dir +
               "/run --vocab 30 --max-len 16 --embed 8 --conv-channels 8 --batch 8 --epochs 1 "
               "--threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const std::string scenario : {"single-stream", "offline"}) {
    const std::string json = dir + "/" + scenario + ".json";
    r = run_imdb("bench --model seq2cnn --checkpoint " + ckpt + " --scenario " + scenario +
                 " --queries 10 --min-seconds 0 --samples 20 --batch 8 --threads 1 --json " + json);
    ASSERT_EQ(r.status, 0) << r.output;
    const nlohmann::json j = nlohmann::json::parse(std::ifstream(json));
    EXPECT_NE(j.at("model").get<std::string>().find("Seq2CNN"), std::string::npos) << j.dump();
    EXPECT_GT(j.at("value").get<double>(), 0.0);
  }
  // --int8: the convolutions quantized at load, named in the JSON's model line.
  const std::string int8_json = dir + "/int8.json";
  r = run_imdb("bench --model seq2cnn --int8 --checkpoint " + ckpt +
               " --queries 10 --min-seconds 0 --threads 1 --json " + int8_json);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(nlohmann::json::parse(std::ifstream(int8_json))
                .at("model")
                .get<std::string>()
                .find("int8 convolutions"),
            std::string::npos);
  r = run_imdb("bench --model lstm --checkpoint " + ckpt + " --queries 1 --min-seconds 0");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("seq2cnn model"), std::string::npos) << r.output;
  r = run_imdb("quantize --checkpoint " + ckpt + " --out " + dir + "/q.safetensors");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("float32"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace loom::imdb
