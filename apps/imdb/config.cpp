// apps/imdb/config.cpp: presets, JSON round trip and validation of Config (see config.h).
#include "apps/imdb/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <utility>

#include "cuda/runtime/device.h"
#include "nn/safetensors.h"
#include "tensor/error.h"

namespace loom::imdb {
namespace {

// Calls f(key, field) for every field of the struct, in declaration order. One table serves
// to_json, merge_json and the unknown-key check, so a new field cannot be forgotten in one of
// them.
template <typename C, typename F>
void visit_fields(C& c, F&& f) {
  f("data", c.data);
  f("test", c.test);
  f("split", c.split);
  f("val_fraction", c.val_fraction);
  f("train_limit", c.train_limit);
  f("val_limit", c.val_limit);
  f("vocab", c.vocab);
  f("max_len", c.max_len);
  f("embed", c.embed);
  f("lstm_size", c.lstm_size);
  f("spatial_dropout", c.spatial_dropout);
  f("lstm_dropout", c.lstm_dropout);
  f("recurrent_dropout", c.recurrent_dropout);
  f("init", c.init);
  f("lstm_impl", c.lstm_impl);
  f("lstm_layers", c.lstm_layers);
  f("bidirectional", c.bidirectional);
  f("pooling", c.pooling);
  f("embed_dropout", c.embed_dropout);
  f("ngram_buckets", c.ngram_buckets);
  f("ngram_dim", c.ngram_dim);
  f("ngram_lr_scale", c.ngram_lr_scale);
  f("model", c.model);
  f("conv_channels", c.conv_channels);
  f("activation", c.activation);
  f("activation_alpha", c.activation_alpha);
  f("padding", c.padding);
  f("oov", c.oov);
  f("stopwords", c.stopwords);
  f("batch", c.batch);
  f("epochs", c.epochs);
  f("patience", c.patience);
  f("lr", c.lr);
  f("clip_norm", c.clip_norm);
  f("device", c.device);
  f("precision", c.precision);
  f("prefetch", c.prefetch);
  f("data_on_device", c.data_on_device);
  f("cuda_graph", c.cuda_graph);
  f("dist", c.dist);
  f("threads", c.threads);
  f("pipeline_stages", c.pipeline_stages);
  f("micro_batches", c.micro_batches);
  f("seed", c.seed);
  f("out", c.out);
  f("preset", c.preset);
  f("target_accuracy", c.target_accuracy);
  f("resume", c.resume);
}

bool one_of(const std::string& v, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed)
    if (v == a) return true;
  return false;
}

// --data-on-device and --cuda-graph need a GPU, and a graph replays what the host decided while
// capturing (graphed_step.h): refused here, before any data is read, saying why.
void check_gpu_flags(const Config& c) {
  const std::pair<bool, const char*> flags[] = {{c.data_on_device, "--data-on-device"},
                                                {c.cuda_graph, "--cuda-graph"}};
  for (const auto& [on, flag] : flags)
    LOOM_CHECK(!on || c.device.rfind("cuda", 0) == 0, flag, " needs --device cuda (got --device ",
               c.device, ")");
  if (c.cuda_graph) {
    std::string dropouts;  // the dropout flags that are on
    for (const auto& [p, flag] : {std::pair{c.spatial_dropout, "--spatial-dropout"},
                                  std::pair{c.lstm_dropout, "--lstm-dropout"},
                                  std::pair{c.recurrent_dropout, "--recurrent-dropout"},
                                  std::pair{c.embed_dropout, "--embed-dropout"}})
      if (p != 0) dropouts += std::string(dropouts.empty() ? "" : " ") + flag + " 0";
    LOOM_CHECK(dropouts.empty(),
               "--cuda-graph would replay the captured step's dropout masks at every step (their "
               "seed is baked into the graph): add ",
               dropouts);
    LOOM_CHECK(c.precision == "fp32",
               "--cuda-graph needs --precision fp32 (the loss scaler of fp16 reads its state on "
               "the host, which a graph cannot)");
    LOOM_CHECK(c.clip_norm == 0,
               "--cuda-graph cannot clip: --clip-norm reads the gradient norm on the host, which "
               "a graph cannot");
  }
  for (const auto& [on, flag] : flags)
    LOOM_CHECK(!on || cuda::device_count() > 0, flag,
               " needs a CUDA device: ", cuda::device_report());
}

}  // namespace

std::string flag_for(const std::string& key) {
  if (key == "lstm_impl") return "--lstm";  // --lstm composed|fused; the size is --lstm-size
  std::string flag = "--" + key;
  for (char& ch : flag)
    if (ch == '_') ch = '-';
  return flag;
}

void apply_preset(Config& c, const std::string& preset) {
  if (preset.empty()) return;
  if (preset == "quick") {
    // Measured on a 2-core CPU: see describe_preset and docs/labs/06-imdb-study.md.
    c.epochs = 2;
    c.train_limit = 10000;
    c.val_limit = 2000;
    c.target_accuracy = 0.75;  // 200 steps stay far below the full run's 83%
  } else if (preset == "full") {
    c.epochs = 8;  // the original study
  } else if (preset == "strong") {
    c.split = "official-val";  // select epochs on held-out training reviews, never on the test half
    c.val_fraction = 0.1;
    c.vocab = 20000;
    c.max_len = 400;
    c.stopwords = "keep";  // "not", "no" and "but" are stopwords, and a 20k vocabulary has room
    c.bidirectional = true;
    c.pooling = "max-mean";  // max and mean of every step's output, padding left out
    c.spatial_dropout = 0.4;
    c.embed_dropout = 0.25;
    c.ngram_buckets = 1 << 20;  // fastText's word and word-pair bag beside the LSTM
    c.ngram_dim = 16;
    c.ngram_lr_scale = 100;  // the bag learns at 100 x lr (model.cpp, ngram_bag)
    c.recurrent_dropout = 0;
    c.epochs = 4;
    c.patience = 1;  // it overfits from the third epoch on
    c.lr = 1e-3;
  } else if (preset == "seq2cnn" || preset == "seq2cnn-small") {
    // The MLPerf inference proposal's model: vocabulary 5200 with the unknown word at 5199,
    // reviews post-padded/truncated to 1000 tokens, two convolutions, ELU(0.25).
    c.model = "seq2cnn";
    c.split = "official-val";  // the test half stays unseen until `imdb eval --on test`
    c.val_fraction = 0.1;
    c.vocab = 5200;
    c.oov = "unk-last";
    c.stopwords = "keep";  // every word counts for a 5,200-word vocabulary
    c.max_len = 1000;
    c.padding = "post";
    // Keras' initializers train the small model much faster than PyTorch's: 88.4% against 82.3%
    // validation accuracy after one epoch (docs/results/seq2cnn-cpu.md).
    c.init = preset == "seq2cnn" ? "torch" : "keras";
    c.embed = c.conv_channels = preset == "seq2cnn" ? 1024 : 64;
    c.activation = "elu";
    c.activation_alpha = 0.25;
    c.spatial_dropout = preset == "seq2cnn" ? 0.0 : 0.25;
    c.lstm_dropout = c.recurrent_dropout = c.embed_dropout = 0;
    c.batch = preset == "seq2cnn" ? 32 : 16;
    c.epochs = preset == "seq2cnn" ? 4 : 2;
    c.patience = 1;
    c.lr = preset == "seq2cnn" ? 3e-4 : 1e-3;
  } else {
    LOOM_FAIL("--preset: unknown preset '", preset,
              "' (expected quick, full, strong, seq2cnn or seq2cnn-small)");
  }
  c.preset = preset;
}

std::string describe_preset(const std::string& preset) {
  if (preset == "quick")
    return "quick: the full dataset is read, cleaned, split 80/20 and encoded exactly as in the "
           "original (vocabulary fitted on all 40000 training reviews), but each variant trains "
           "for 2 epochs on only the first 10000 reviews of the shuffled training split and "
           "validates on the first 2000 of the 10000 validation reviews; time to accuracy is "
           "measured to 75%. Everything else is the original configuration. It measures speed, not "
           "accuracy: 200 optimizer steps leave the model below a full run's ~84-85%. Sized "
           "for the whole CPU study to finish in under 15 minutes on 2 cores (1.1 minutes "
           "measured, idle).";
  if (preset == "full")
    return "full: the original study: 8 epochs (early stopping, patience 3) on the whole 80% "
           "training split.";
  if (preset == "strong")
    return "strong: aclImdb's official split, validating on 10% of the 25k training half "
           "(--split official-val, so the test half stays unseen), vocabulary 20000, sequences of "
           "400 tokens, a bidirectional LSTM read by max and mean pooling over time beside a bag "
           "of words and hashed word pairs (2^20 buckets, 16 wide, learning 100x faster), spatial "
           "dropout 0.4, embedding (word) dropout 0.25, no recurrent dropout, Adam lr 1e-3, up to "
           "4 epochs with patience 1 (use --lstm fused on a CPU). Score it once afterwards with "
           "`imdb eval --on test`: 90.26% and 89.96% measured, two seeds "
           "(docs/results/imdb-accuracy-cpu.md).";
  if (preset == "seq2cnn" || preset == "seq2cnn-small")
    return preset + ": the Seq2CNN model of the MLPerf inference proposal (--model seq2cnn): " +
           "vocabulary 5200 with unknown words at id 5199, reviews post-padded and truncated to " +
           "1000 tokens, Embedding -> Conv1d kernel 3 and kernel 4 in parallel -> ELU(0.25) -> " +
           "max over time -> concat -> Linear(2 classes); " +
           (preset == "seq2cnn"
                ? std::string("1024 wide (12,670,978 parameters, for a GPU), Adam lr 3e-4")
                : std::string("64 wide, batch 16, Keras' initializers (trains in about 15 "
                              "minutes on 2 cores), spatial dropout 0.25")) +
           "; --split official-val, up to " + (preset == "seq2cnn" ? "4" : "2") +
           " epochs, patience 1; score it with `imdb eval --on test`.";
  return "none: the original study's defaults";
}

nlohmann::json to_json(const Config& c) {
  nlohmann::json j = nlohmann::json::object();
  visit_fields(c, [&](const char* key, const auto& field) { j[key] = field; });
  return j;
}

void merge_json(Config& c, const nlohmann::json& j, const std::string& source) {
  LOOM_CHECK(j.is_object(), source, ": a config file must hold one JSON object, got ",
             j.type_name());
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    visit_fields(c, [&](const char* key, auto& field) {
      if (it.key() != key) return;
      known = true;
      using T = std::decay_t<decltype(field)>;
      const nlohmann::json& v = it.value();
      bool ok;
      if constexpr (std::is_same_v<T, std::string>)
        ok = v.is_string();
      else if constexpr (std::is_same_v<T, bool>)
        ok = v.is_boolean();
      else if constexpr (std::is_floating_point_v<T>)
        ok = v.is_number();
      else if constexpr (std::is_unsigned_v<T>)
        ok = v.is_number_unsigned();
      else
        ok = v.is_number_integer();
      LOOM_CHECK(ok, source, ": key \"", key, "\" (", flag_for(key),
                 ") has the wrong type: ", v.dump());
      field = v.get<T>();
    });
    LOOM_CHECK(known, source, ": unknown key \"", it.key(),
               "\" (keys are the flag names with '_' for '-', e.g. \"max_len\")");
  }
}

nlohmann::json read_config_json(const std::string& path) {
  std::ifstream in(path);
  LOOM_CHECK(in.good(), "--config: cannot open '", path, "'");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    LOOM_FAIL("--config: '", path, "' is not valid JSON: ", e.what());
  }
  LOOM_CHECK(j.is_object(), "--config: '", path, "' must hold one JSON object, got ",
             j.type_name());
  Config check;
  merge_json(check, j, path);  // unknown keys and wrong types fail here, naming the file
  return j;
}

Config load_config_file(const std::string& path) {
  const nlohmann::json j = read_config_json(path);
  Config c;
  if (j.contains("preset")) apply_preset(c, j["preset"].get<std::string>());
  merge_json(c, j, path);
  return c;
}

namespace {

// A floating-point setting: finite (a NaN fails every comparison, but inf passes "> 0") and in
// [lo, hi], with each bound open or closed; hi = inf for no upper bound.
void check_range(double v, const char* key, double lo, bool lo_open, double hi, bool hi_open) {
  const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  if (std::isinf(hi)) {
    LOOM_CHECK(ok, flag_for(key), " must be a finite number ", lo_open ? "> " : ">= ", lo, ", got ",
               v);
  }
  LOOM_CHECK(ok, flag_for(key), " must be a finite number in ", lo_open ? "(" : "[", lo, ", ", hi,
             hi_open ? ")" : "]", ", got ", v);
}

// The model must fit in memory: each parameter costs 16 bytes (weight, gradient and Adam's two
// buffers). Sizes beyond that would otherwise surface as std::bad_alloc from deep inside nn/.
void check_model_size(const Config& c) {
  const double H = static_cast<double>(c.lstm_size), D = c.bidirectional ? 2 : 1;
  const double layers = static_cast<double>(std::max<int64_t>(1, c.lstm_layers));
  // The first layer reads the embedding, every later one the D*H outputs below it.
  const double lstm = D * 4 * H * (static_cast<double>(c.embed) + H + 2) +
                      (layers - 1) * D * 4 * H * (D * H + H + 2);
  // The n-gram bag: a table of vocab + buckets rows of ngram_dim, and as many head weights.
  const double bag = c.ngram_buckets > 0 ? static_cast<double>(c.vocab + c.ngram_buckets + 1) *
                                               static_cast<double>(c.ngram_dim)
                                         : 0.0;
  const double params = static_cast<double>(c.vocab) * static_cast<double>(c.embed) + lstm +
                        (c.pooling == "max-mean" ? 2 : 1) * D * H + 1 + bag;
  constexpr double kMaxParams = 1u << 30;  // 16 GiB of weights, gradients and Adam state
  LOOM_CHECK(params <= kMaxParams, "the model would have ", static_cast<int64_t>(params),
             " parameters (--vocab x --embed plus the LSTM's layers of 4 x --lstm-size x (input + "
             "--lstm-size + 2) and the n-gram bag's (--vocab + --ngram-buckets) x --ngram-dim), "
             "more than 2^30: lower --vocab, --embed, --lstm-size, --lstm-layers or "
             "--ngram-buckets");
}

// The Seq2CNN settings, and the LSTM-only flags it does not take.
void check_seq2cnn(const Config& c) {
  LOOM_CHECK(one_of(c.model, {"lstm", "seq2cnn"}), "--model must be lstm or seq2cnn, got '",
             c.model, "'");
  LOOM_CHECK(one_of(c.activation, {"elu", "leaky-relu"}),
             "--activation must be elu or leaky-relu, got '", c.activation, "'");
  check_range(c.activation_alpha, "activation_alpha", 0, c.activation == "elu", 100, false);
  LOOM_CHECK(one_of(c.padding, {"pre", "post"}), "--padding must be pre or post, got '", c.padding,
             "'");
  LOOM_CHECK(one_of(c.stopwords, {"keep", "remove"}), "--stopwords must be keep or remove, got '",
             c.stopwords, "'");
  LOOM_CHECK(one_of(c.oov, {"drop", "unk-last"}), "--oov must be drop or unk-last, got '", c.oov,
             "'");
  LOOM_CHECK(c.oov != "unk-last" || c.vocab >= 3,
             "--oov unk-last needs --vocab >= 3 (padding, one word, the unknown id)");
  LOOM_CHECK(c.conv_channels >= 1 && c.conv_channels <= (int64_t{1} << 16),
             "--conv-channels must be in [1, 65536], got ", c.conv_channels);
  if (c.model != "seq2cnn") return;
  LOOM_CHECK(c.ngram_buckets == 0,
             "--model seq2cnn has no n-gram bag: --ngram-buckets is an option of --model lstm");
  LOOM_CHECK(c.max_len >= 4, "--model seq2cnn needs --max-len >= 4 (its widest kernel), got ",
             c.max_len);
  LOOM_CHECK(c.precision == "fp32", "--model seq2cnn trains in fp32 only (got --precision ",
             c.precision, ")");
  LOOM_CHECK(!c.cuda_graph,
             "--model seq2cnn does not take --cuda-graph (its forward trims the "
             "batch's padding, a shape a graph cannot replay)");
}

// --pipeline-stages cuts the LSTM network into stages, one per process: what cannot be cut, or
// needs the whole network in one process, is refused here naming the flag.
void check_pipeline_flags(const Config& c) {
  LOOM_CHECK(c.pipeline_stages >= 1 && c.pipeline_stages <= 64,
             "--pipeline-stages must be in [1, 64], got ", c.pipeline_stages);
  LOOM_CHECK(c.micro_batches >= 1, "--micro-batches must be >= 1, got ", c.micro_batches);
  LOOM_CHECK(c.micro_batches == 1 || c.pipeline_stages > 1, "--micro-batches ", c.micro_batches,
             " cuts the batch for a pipeline: it needs --pipeline-stages 2 or more");
  if (c.pipeline_stages == 1) return;
  const std::string flag = "--pipeline-stages " + std::to_string(c.pipeline_stages);
  LOOM_CHECK(c.model == "lstm", flag, ": only --model lstm can be cut into stages (got --model ",
             c.model, ")");
  LOOM_CHECK(c.ngram_buckets == 0, flag,
             ": the n-gram bag (--ngram-buckets) reads the tokens beside the first stage's LSTM "
             "and feeds the last stage's head; it is not cut into stages");
  LOOM_CHECK(c.lstm_layers + 1 >= c.pipeline_stages, flag, " is more than the ", c.lstm_layers + 1,
             " pieces the network can be cut into (", c.lstm_layers,
             " LSTM layer(s) and the head): use at most --pipeline-stages ", c.lstm_layers + 1,
             ", or more --lstm-layers");
  LOOM_CHECK(c.device == "cpu", flag, " runs on the CPU (MPI point-to-point); got --device ",
             c.device);
  LOOM_CHECK(c.precision == "fp32", flag,
             " needs --precision fp32 (the fp16 loss scaler's skip "
             "decision and bf16 activations are not carried between stages); got --precision ",
             c.precision);
  LOOM_CHECK(c.clip_norm == 0, flag,
             " cannot clip: --clip-norm needs the gradient norm of the "
             "whole network, which no stage holds");
  LOOM_CHECK(!c.cuda_graph, flag,
             " cannot take --cuda-graph (a graph captures one process's "
             "whole step)");
}

}  // namespace

void validate(const Config& c) {
  LOOM_CHECK(one_of(c.split, {"random80", "official", "official-val"}),
             "--split must be random80, official or official-val, got '", c.split, "'");
  LOOM_CHECK(c.test.empty() || c.split != "random80", "--test '", c.test,
             "' is the dataset's own test split: use --split official (the test file validates) "
             "or official-val (it is left for `eval --on test`), not random80");
  check_range(c.val_fraction, "val_fraction", 0, true, 1, true);
  LOOM_CHECK(c.train_limit >= 0, "--train-limit must be >= 0 (0 = all rows), got ", c.train_limit);
  LOOM_CHECK(c.val_limit >= 0, "--val-limit must be >= 0 (0 = all rows), got ", c.val_limit);
  LOOM_CHECK(c.vocab >= 2 && c.vocab <= (int64_t{1} << 30), "--vocab must be in [2, 2^30], got ",
             c.vocab);
  LOOM_CHECK(c.max_len >= 1, "--max-len must be >= 1, got ", c.max_len);
  LOOM_CHECK(c.max_len <= (int64_t{1} << 20), "--max-len must be <= 2^20, got ", c.max_len);
  LOOM_CHECK(c.embed >= 1, "--embed must be >= 1, got ", c.embed);
  LOOM_CHECK(c.embed <= (int64_t{1} << 16), "--embed must be <= 65536, got ", c.embed);
  LOOM_CHECK(c.lstm_size >= 1, "--lstm-size must be >= 1, got ", c.lstm_size);
  LOOM_CHECK(c.lstm_size <= (int64_t{1} << 16), "--lstm-size must be <= 65536, got ", c.lstm_size);
  check_model_size(c);
  check_range(c.spatial_dropout, "spatial_dropout", 0, false, 1, true);
  check_range(c.lstm_dropout, "lstm_dropout", 0, false, 1, true);
  check_range(c.recurrent_dropout, "recurrent_dropout", 0, false, 1, true);
  check_range(c.embed_dropout, "embed_dropout", 0, false, 1, true);
  LOOM_CHECK(one_of(c.init, {"keras", "torch"}), "--init must be keras or torch, got '", c.init,
             "'");
  LOOM_CHECK(c.lstm_layers >= 1 && c.lstm_layers <= 16, "--lstm-layers must be in [1, 16], got ",
             c.lstm_layers);
  LOOM_CHECK(one_of(c.pooling, {"last", "max-mean"}), "--pooling must be last or max-mean, got '",
             c.pooling, "'");
  LOOM_CHECK(c.ngram_buckets >= 0 && c.ngram_buckets <= (1 << 26),
             "--ngram-buckets must be 0 (no n-gram bag) or in [1, 2^26], got ", c.ngram_buckets);
  LOOM_CHECK(c.ngram_dim >= 1 && c.ngram_dim <= 1024, "--ngram-dim must be in [1, 1024], got ",
             c.ngram_dim);
  check_range(c.ngram_lr_scale, "ngram_lr_scale", 0, true, 1000, false);
  LOOM_CHECK(one_of(c.lstm_impl, {"composed", "fused", "persistent"}),
             "--lstm must be composed, fused or persistent, got '", c.lstm_impl, "'");
  LOOM_CHECK(c.batch >= 1, "--batch must be >= 1, got ", c.batch);
  LOOM_CHECK(c.batch <= (int64_t{1} << 20), "--batch must be <= 2^20, got ", c.batch);
  LOOM_CHECK(c.epochs >= 1, "--epochs must be >= 1, got ", c.epochs);
  LOOM_CHECK(c.patience >= 0, "--patience must be >= 0 (0 = off), got ", c.patience);
  // Adam moves each weight by about lr per step: beyond 10 a run can only diverge.
  check_range(c.lr, "lr", 0, true, 10, false);
  check_range(c.clip_norm, "clip_norm", 0, false, std::numeric_limits<double>::infinity(), true);
  LOOM_CHECK(c.device == "cpu" || c.device.rfind("cuda", 0) == 0,
             "--device must be cpu, cuda or cuda:N, got '", c.device, "'");
  LOOM_CHECK(one_of(c.precision, {"fp32", "fp16", "bf16"}),
             "--precision must be fp32, fp16 or bf16, got '", c.precision, "'");
  LOOM_CHECK(one_of(c.dist, {"auto", "none", "mpi", "nccl"}),
             "--dist must be auto, none, mpi or nccl, got '", c.dist, "'");
  LOOM_CHECK(c.threads >= 0, "--threads must be >= 0 (0 = all cores), got ", c.threads);
  LOOM_CHECK(c.threads <= 4096, "--threads must be <= 4096, got ", c.threads);
  check_pipeline_flags(c);
  LOOM_CHECK(!c.out.empty(), "--out must not be empty");
  LOOM_CHECK(one_of(c.preset, {"", "quick", "full", "strong", "seq2cnn", "seq2cnn-small"}),
             "--preset must be quick, full, strong, seq2cnn or seq2cnn-small, got '", c.preset,
             "'");
  check_seq2cnn(c);
  check_range(c.target_accuracy, "target_accuracy", 0, true, 1, false);
  check_gpu_flags(c);
}

void validate_against_data(const Config& c, int64_t train_rows) {
  LOOM_CHECK(train_rows > 0, "the training split is empty (check --data and --split)");
  LOOM_CHECK(c.batch <= train_rows, "--batch ", c.batch, " is larger than the training split (",
             train_rows, " rows): lower --batch or use more data");
}

void write_config(const Config& c, const std::string& path) {
  const std::string text = to_json(c).dump(2) + "\n";
  nn::write_file_atomically(path, text.data(), text.size());
}

}  // namespace loom::imdb
