// tests/bench/bench_seq2cnn.cpp: batch-1 latency and batched throughput of the full-size Seq2CNN
// forward (apps/imdb/seq2cnn.h), for tests/bench/run_seq2cnn_bench.sh, which runs PyTorch on the
// same weights and reviews beside it (tests/reference/torch_seq2cnn_bench.py).
//
//   bench_seq2cnn prepare --data ACLIMDB --reviews N --out DIR [--weights CKPT] [--seed S]
//       encodes aclImdb as the seq2cnn preset does (vocabulary fitted on the official training
//       half), picks N test reviews at random (seeded) and writes DIR/inputs.safetensors: the
//       model's parameters (PyTorch's names; from CKPT, an `imdb train` checkpoint, or a seeded
//       init: latency does not depend on the values) and tokens [N, 1000] int64.
//   bench_seq2cnn time DIR --mode trimmed|plain|int8 [--batch B] [--threads T] --json OUT
//       times the forward of every review (batch 1: each review alone; batch B > 1: the reviews
//       in batches, throughput) without autograd, and writes per-call milliseconds and the logits.
//   bench_seq2cnn accuracy --data ACLIMDB --checkpoint CKPT [--limit N] [--threads T]
//       a seq2cnn checkpoint's accuracy on aclImdb's official test half, float32 and int8.
// trimmed: the padding-window trick; plain: all 1000 positions, as PyTorch; int8: the trick with
// int8 convolutions (Seq2CnnInt8, quantized before timing). Leaves out: bf16, CUDA.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "apps/imdb/checkpoint.h"
#include "apps/imdb/config.h"
#include "apps/imdb/model.h"
#include "apps/imdb/plain_state_dict.h"
#include "apps/imdb/prepare.h"
#include "apps/imdb/seq2cnn.h"
#include "autograd/grad_mode.h"
#include "nn/safetensors.h"
#include "nn/serialize.h"
#include "tensor/cpu/threads.h"
#include "tensor/generator.h"
#include "tensor/ops.h"

namespace {

using namespace loom;
using namespace loom::imdb;

// "--key value" pairs after the positional arguments.
std::map<std::string, std::string> flags(int argc, char** argv, int first) {
  std::map<std::string, std::string> f;
  for (int i = first; i + 1 < argc; i += 2) {
    LOOM_CHECK(std::string(argv[i]).rfind("--", 0) == 0, "bench_seq2cnn: expected a --flag, got '",
               argv[i], "'");
    f[argv[i] + 2] = argv[i + 1];
  }
  return f;
}

std::string need(const std::map<std::string, std::string>& f, const std::string& key) {
  const auto it = f.find(key);
  LOOM_CHECK(it != f.end(), "bench_seq2cnn: --", key, " is required");
  return it->second;
}

Seq2CnnOptions full_size() {
  Config c;
  apply_preset(c, "seq2cnn");
  Seq2CnnOptions o;
  o.vocab = c.vocab;
  o.embed = c.embed;
  o.channels = c.conv_channels;
  return o;
}

int prepare(const std::map<std::string, std::string>& f) {
  Config c;
  apply_preset(c, "seq2cnn");
  c.split = "official";  // fit the vocabulary on the training half; sample from the test half
  const PreparedData d = prepare_data(c, need(f, "data"));
  std::vector<int64_t> test;
  for (int64_t r = 0; r < d.rows; ++r)
    if (d.official[static_cast<std::size_t>(r)] == data::Split::Test) test.push_back(r);
  std::mt19937_64 rng(std::stoull(f.count("seed") ? f.at("seed") : "1"));
  std::shuffle(test.begin(), test.end(), rng);
  const int64_t n = std::min<int64_t>(std::stoll(need(f, "reviews")), test.size());
  std::vector<int64_t> tokens;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < d.max_len; ++t)
      tokens.push_back(d.tokens[static_cast<std::size_t>(test[i] * d.max_len + t)]);

  manual_seed(1234);
  Seq2Cnn net(full_size());
  if (f.count("weights")) nn::load(net, f.at("weights"), /*strict=*/false);
  std::vector<nn::TensorRecord> records;
  for (const auto& [name, t] : net.state_dict())
    records.push_back(nn::tensor_to_record(name, t));
  records.push_back(nn::make_record("tokens", DType::Int64, {n, d.max_len}, tokens));
  const std::string path = need(f, "out") + "/inputs.safetensors";
  nn::save_safetensors(path, records, {{"reviews", std::to_string(n)}});
  std::printf("wrote %s: %lld test reviews, %s weights\n", path.c_str(), static_cast<long long>(n),
              f.count("weights") ? "trained" : "seeded random");
  return 0;
}

int time_forward(const std::string& dir, const std::map<std::string, std::string>& f) {
  const std::string mode = need(f, "mode");
  LOOM_CHECK(mode == "trimmed" || mode == "plain" || mode == "int8",
             "--mode must be trimmed, plain or int8, got '", mode, "'");
  const int64_t batch = f.count("batch") ? std::stoll(f.at("batch")) : 1;
  set_num_threads(f.count("threads") ? std::stoi(f.at("threads")) : 1);
  Seq2Cnn net(full_size());
  nn::load(net, dir + "/inputs.safetensors", /*strict=*/false);
  net.train(false);
  const nn::SafetensorsContents file = nn::load_safetensors(dir + "/inputs.safetensors");
  const Tensor tokens = nn::record_to_tensor(*file.find("tokens"));
  const int64_t n = tokens.size(0);
  NoGradGuard no_grad;
  const Seq2CnnInt8 int8(net);  // quantizes the convolutions: once, not timed
  const auto forward = [&](const Tensor& rows) {
    return mode == "int8" ? int8.logits(rows) : net.logits(rows, mode == "trimmed").data();
  };
  (void)forward(tokens.narrow(0, 0, 1));  // warm-up: allocator, pages
  std::vector<double> ms;
  std::vector<float> logits;
  for (int64_t first = 0; first < n; first += batch) {
    const Tensor rows = tokens.narrow(0, first, std::min(batch, n - first));
    const auto t0 = std::chrono::steady_clock::now();
    const Tensor z = forward(rows);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    for (float v : z.to_vector<float>())
      logits.push_back(v);
  }
  std::ofstream out(need(f, "json"));
  out << "{\"mode\": \"" << mode << "\", \"batch\": " << batch
      << ", \"threads\": " << get_num_threads() << ", \"reviews\": " << n << ", \"ms\": [";
  for (std::size_t i = 0; i < ms.size(); ++i)
    out << (i ? ", " : "") << ms[i];
  out << "], \"logits\": [";
  for (std::size_t i = 0; i < logits.size(); ++i)
    out << (i ? ", " : "") << logits[i];
  out << "]}\n";
  return 0;
}

int accuracy(const std::map<std::string, std::string>& f) {
  const std::string path = need(f, "checkpoint");
  const Checkpoint ck = load_model_file(path, Config{}, {}, "");
  LOOM_CHECK(ck.config.model == "seq2cnn", "bench_seq2cnn accuracy: ", path, " is a --model ",
             ck.config.model, " checkpoint, not seq2cnn");
  Config c = ck.config;
  c.device = "cpu";
  c.split = "none";  // every row, the official halves marked
  c.train_limit = c.val_limit = 0;
  c.data = need(f, "data");
  set_num_threads(f.count("threads") ? std::stoi(f.at("threads")) : get_num_threads());
  const PreparedData d = prepare_data(c, c.data, &ck.vocab);
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < d.rows; ++r)
    if (d.official[static_cast<std::size_t>(r)] == data::Split::Test) rows.push_back(r);
  if (f.count("limit")) rows.resize(std::min<std::size_t>(rows.size(), std::stoull(f.at("limit"))));
  LOOM_CHECK(!rows.empty(), "bench_seq2cnn accuracy: ", c.data, " has no official test half");
  ImdbModel model(c, kCPU);
  restore_model(model, ck, path, /*with_optimizer=*/false);
  Seq2Cnn& net = *model.seq2cnn();
  net.train(false);
  NoGradGuard no_grad;
  const Seq2CnnInt8 int8(net);
  int64_t right32 = 0, right8 = 0, agree = 0;
  constexpr std::size_t kBatch = 50;
  for (std::size_t first = 0; first < rows.size(); first += kBatch) {
    const std::size_t n = std::min(kBatch, rows.size() - first);
    std::vector<int64_t> ids;
    for (std::size_t i = 0; i < n; ++i)
      for (int64_t t = 0; t < d.max_len; ++t)
        ids.push_back(d.tokens[static_cast<std::size_t>(rows[first + i] * d.max_len + t)]);
    const Tensor tokens = from_vector<int64_t>(ids, {static_cast<int64_t>(n), d.max_len});
    const std::vector<float> z32 = net.logits(tokens).data().to_vector<float>();
    const std::vector<float> z8 = int8.logits(tokens).to_vector<float>();
    for (std::size_t i = 0; i < n; ++i) {
      const bool truth = d.labels[static_cast<std::size_t>(rows[first + i])] > 0.5f;
      const bool p32 = z32[2 * i + 1] > z32[2 * i], p8 = z8[2 * i + 1] > z8[2 * i];
      right32 += p32 == truth;
      right8 += p8 == truth;
      agree += p32 == p8;
    }
  }
  const double n = static_cast<double>(rows.size());
  std::printf(
      "%s on %zu official test reviews: float32 %.4f, int8 %.4f (%+.2f points); the two "
      "agree on %.4f of the reviews\n",
      path.c_str(), rows.size(), right32 / n, right8 / n, 100.0 * (right8 - right32) / n,
      agree / n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "prepare") return prepare(flags(argc, argv, 2));
    if (cmd == "time" && argc > 2) return time_forward(argv[2], flags(argc, argv, 3));
    if (cmd == "accuracy") return accuracy(flags(argc, argv, 2));
    std::fprintf(stderr,
                 "usage: bench_seq2cnn prepare --data ACLIMDB --reviews N --out DIR [--weights "
                 "CKPT] [--seed S]\n       bench_seq2cnn time DIR --mode trimmed|plain|int8 "
                 "[--batch B] [--threads T] --json OUT\n       bench_seq2cnn accuracy --data "
                 "ACLIMDB --checkpoint CKPT [--limit N] [--threads T]\n");
    return 2;
  } catch (const loom::Error& e) {
    std::fprintf(stderr, "bench_seq2cnn: %s\n", e.what());
    return 1;
  }
}
