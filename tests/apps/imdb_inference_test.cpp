// tests/apps/imdb_inference_test.cpp: the inference path (apps/imdb/inference.h) against the
// training model's forward, the int8 checkpoint (quantize.h), and quantize / eval / predict /
// bench end to end on a tiny dataset.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/imdb/checkpoint.h"
#include "apps/imdb/inference.h"
#include "apps/imdb/model.h"
#include "apps/imdb/quantize.h"
#include "cuda/runtime/device.h"
#include "nn/safetensors.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tests/apps/app_fixture.h"

namespace loom::imdb {
namespace {

using testing_support::run_imdb;
using testing_support::temp_dir;

// A small untrained model whose weights are scaled up so that probabilities spread over (0, 1)
// (at init they all sit near 0.5, which would make any comparison pass), saved as a checkpoint.
struct TinyCheckpoint {
  std::string dir = temp_dir("inference_unit");
  std::string path = dir + "/tiny.safetensors";
  Checkpoint ck;

  TinyCheckpoint() {
    Config c;
    c.vocab = 30;
    c.max_len = 12;
    c.embed = 8;
    c.lstm_size = 16;
    default_generator().manual_seed(3);
    ImdbModel model(c, kCPU);
    for (auto& [name, p] : model.named_parameters())
      p.data().copy_(mul(p.data(), 4.0));
    std::vector<std::string> words;
    for (int i = 0; i < 29; ++i)  // letters only: cleaning removes digits
      words.push_back(std::string("w") + static_cast<char>('a' + i % 26) + (i >= 26 ? "z" : ""));
    const data::Vocabulary vocab = data::Vocabulary::from_words(words, data::VocabOptions{30});
    save_checkpoint(path, c, vocab, model, TrainState{});
    ck = load_checkpoint(path);
  }
};

std::vector<int32_t> random_ids(int64_t rows, int64_t T, uint64_t seed) {
  Generator g(seed);
  const std::vector<float> u = uniform({rows * T}, 0.0, 30.0, g).to_vector<float>();
  std::vector<int32_t> ids;
  for (float x : u)
    ids.push_back(std::min(29, static_cast<int32_t>(x)));
  return ids;
}

std::vector<float> predict(InferenceModel& m, const std::vector<int32_t>& ids, int64_t rows) {
  std::vector<float> p(static_cast<size_t>(rows));
  m.predict_ids(ids.data(), rows, p.data());
  return p;
}

float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float d = 0;
  for (size_t i = 0; i < a.size(); ++i)
    d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

TEST(InferenceModel, FastPathMatchesTheTrainingForward) {
  const TinyCheckpoint t;
  InferenceOptions ref_opt, plain_opt;
  ref_opt.reference = true;
  plain_opt.fold = false;
  InferenceModel fast(t.ck, t.path), reference(t.ck, t.path, ref_opt),
      unfolded(t.ck, t.path, plain_opt);
  const std::vector<int32_t> ids = random_ids(9, 12, 1);
  const std::vector<float> want = predict(reference, ids, 9);
  float lo = 1, hi = 0;
  for (float p : want) {
    lo = std::min(lo, p);
    hi = std::max(hi, p);
  }
  EXPECT_GT(hi - lo, 0.1f) << "the fixture's probabilities must spread out";
  EXPECT_LT(max_diff(predict(fast, ids, 9), want), 1e-5f);
  EXPECT_LT(max_diff(predict(unfolded, ids, 9), want), 1e-5f);
  // Batch 1 gives each review the same answer as the batch.
  for (int64_t r = 0; r < 9; ++r) {
    const std::vector<int32_t> one(ids.begin() + r * 12, ids.begin() + (r + 1) * 12);
    EXPECT_NEAR(predict(fast, one, 1)[0], want[static_cast<size_t>(r)], 1e-5f);
  }
}

// int8 convolutions are Seq2CNN's: asked of an LSTM checkpoint, the model refuses (naming the
// file) instead of silently running fp32.
TEST(InferenceModel, Int8ConvolutionsRefuseAnLstmCheckpoint) {
  const TinyCheckpoint t;
  InferenceOptions o;
  o.int8_convolutions = true;
  try {
    InferenceModel m(t.ck, t.path, o);
    ADD_FAILURE() << "an LSTM checkpoint was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("int8 convolutions are for a Seq2CNN checkpoint"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(t.path), std::string::npos) << e.what();
  }
}

// On a GPU the inference model runs the training forward under NoGradGuard (existing CUDA ops);
// it must agree with the CPU's fast path. int8 stays on the CPU.
TEST(InferenceModel, CudaAgreesWithTheCpuFastPath) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::device_report();
  const TinyCheckpoint t;
  InferenceOptions gpu;
  gpu.device = Device(DeviceType::CUDA, 0);
  InferenceModel fast(t.ck, t.path), on_gpu(t.ck, t.path, gpu);
  const std::vector<int32_t> ids = random_ids(9, 12, 4);
  EXPECT_LT(max_diff(predict(on_gpu, ids, 9), predict(fast, ids, 9)), 1e-4f);
}

TEST(InferenceModel, TextToProbabilityInOneCall) {
  const TinyCheckpoint t;
  InferenceModel m(t.ck, t.path);
  // "WD we, wd!" cleans to "wd wd": "we" is a stopword, and the checkpoint's config removes them
  // (--stopwords remove, the default). Ids 4 4, 'pre' padding.
  std::vector<int32_t> ids(12, 0);
  ids[10] = 4, ids[11] = 4;
  EXPECT_NEAR(m.predict_text("WD we, wd!"), predict(m, ids, 1)[0], 1e-7f);
}

TEST(InferenceModel, SteadyStateAllocatesNoTensor) {
  const TinyCheckpoint t;
  const nn::SafetensorsContents q = quantize_checkpoint(t.ck, t.path);
  nn::save_safetensors(t.dir + "/int8.safetensors", q.tensors, q.metadata);
  InferenceModel fp32(t.ck, t.path);
  InferenceModel int8(load_checkpoint(t.dir + "/int8.safetensors"), t.dir + "/int8.safetensors");
  const std::vector<int32_t> ids = random_ids(4, 12, 2);
  for (InferenceModel* m : {&fp32, &int8}) {
    predict(*m, ids, 4);  // the first call makes the workspace
    const int64_t before = storage_count();
    predict(*m, ids, 4);
    predict(*m, ids, 1);
    m->predict_text("wa wb wc");
    EXPECT_EQ(storage_count(), before) << m->describe();
  }
}

TEST(InferenceModel, Int8CheckpointNamesDtypesAndAccuracy) {
  const TinyCheckpoint t;
  const nn::SafetensorsContents q = quantize_checkpoint(t.ck, t.path);
  EXPECT_EQ(q.metadata.at(kQuantizationKey), kInt8Dynamic);
  for (const std::string& name : int8_weight_names()) {
    EXPECT_EQ(find_record(q, name, "q").dtype, DType::Int8) << name;
    const nn::TensorRecord& s = find_record(q, name + ".scale", "q");
    EXPECT_EQ(s.dtype, DType::Float32);
    EXPECT_EQ(s.shape, std::vector<int64_t>{find_record(q, name, "q").shape[0]});
  }
  for (const nn::TensorRecord& r : q.tensors)
    EXPECT_NE(r.name.rfind("optim.", 0), 0u) << "the optimizer state is dropped";
  const std::string file = t.dir + "/int8.safetensors";
  nn::save_safetensors(file, q.tensors, q.metadata);
  const Checkpoint ck8 = load_checkpoint(file);
  ASSERT_TRUE(is_quantized(ck8));
  EXPECT_THROW(quantize_checkpoint(ck8, file), Error);  // already int8
  InferenceModel fp32(t.ck, t.path), int8(ck8, file);
  InferenceOptions plain;
  plain.fold = false;
  InferenceModel int8_unfolded(ck8, file, plain);
  const std::vector<int32_t> ids = random_ids(16, 12, 3);
  const std::vector<float> p32 = predict(fp32, ids, 16), p8 = predict(int8, ids, 16);
  // Each int8 GEMM is off by at most half a step of each grid (tensor's quantize_test checks
  // the bound), about 1% of its terms' magnitudes; the gates' slopes are <= 1 and the
  // probability's <= 1/4, so over 12 steps of these x4-scaled weights a few hundredths is the
  // expected scale; 0.05 catches a wrong scale or zero point (errors of 0.1 to 0.5).
  EXPECT_LT(max_diff(p8, p32), 0.05f);
  EXPECT_GT(max_diff(p8, p32), 0.0f) << "the int8 model must not be the float one";
  // Unfolded, the input GEMM quantizes the embedding rows too: close to both.
  EXPECT_LT(max_diff(predict(int8_unfolded, ids, 16), p32), 0.05f);
}

TEST(InferenceModel, Int8RefusesTheReferencePath) {
  const TinyCheckpoint t;
  const nn::SafetensorsContents q = quantize_checkpoint(t.ck, t.path);
  const std::string file = t.dir + "/int8.safetensors";
  nn::save_safetensors(file, q.tensors, q.metadata);
  InferenceOptions ref;
  ref.reference = true;
  EXPECT_THROW(InferenceModel(load_checkpoint(file), file, ref), Error);
}

// quantize, eval, predict and every bench scenario through the binary, on a trained tiny model.
TEST(InferenceCli, QuantizeEvalPredictBench) {
  const std::string dir = temp_dir("inference_cli");
  testing_support::make_tiny_aclimdb(dir, 40);
  const std::string data = dir + "/aclImdb", run = dir + "/run";
  testing_support::RunResult r = run_imdb("train --data " + data + " --out " + run +
                                          " --epochs 2 " + testing_support::tiny_model_flags());
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string fp32 = run + "/best.safetensors", int8 = dir + "/int8.safetensors";
  r = run_imdb("quantize --checkpoint " + fp32 + " --out " + int8);
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_imdb("eval --checkpoint " + int8 + " --json " + dir + "/eval8.json");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_imdb("predict --checkpoint " + int8 + " 'a great wonderful film'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("positive"), std::string::npos) << r.output;
  const std::vector<std::pair<std::string, std::string>> runs = {
      {"single-stream", "--queries 20 --min-seconds 0"},
      {"offline", "--samples 50 --batch 16"},
      {"server", "--queries 20 --search-steps 2 --latency-bound 50"}};
  for (const auto& [scenario, flags] : runs) {
    const std::string json = dir + "/" + scenario + ".json";
    r = run_imdb("bench --checkpoint " + int8 + " --scenario " + scenario + " " + flags +
                 " --threads 1 --json " + json);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("bench " + scenario + ":"), std::string::npos) << r.output;
    const nlohmann::json j = nlohmann::json::parse(std::ifstream(json));
    EXPECT_EQ(j.at("scenario"), scenario);
    EXPECT_TRUE(j.at("value").is_number());
  }
  r = run_imdb("bench --checkpoint " + fp32 + " --scenario nightly");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--scenario must be"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace loom::imdb
