// apps/imdb/config.h: every setting of an imdb run in one struct, and how it is resolved.
//
// A run's settings come from four layers, each overriding the one before:
//   1. the defaults below (the original Keras study's values),
//   2. the preset (--preset quick|full|strong|seq2cnn|seq2cnn-small), which changes a few of them
//      (--model seq2cnn without a preset applies the seq2cnn preset),
//   3. the JSON file given with --config (keys = the field names below, e.g. "max_len"),
//   4. the flags actually typed on the command line (--max-len ...).
// The resolved Config is validated (errors name the flag, e.g. "--max-len must be >= 1, got 0")
// and written in full to <out>/config.json, so a run can be repeated with `--config` alone.
// Enumerations are kept as the strings the user typed and checked in validate(), so a bad value
// gets the same message whether it came from a flag or from a file.
// Left out: environment-variable overrides (except LOOM_IMDB_DATA, see data_location.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace loom::imdb {

struct Config {
  // --- data ---
  std::string data;  // folder / .tar.gz / .csv / fastText; "" = find it (data_location.h)
  std::string test;  // "" or the dataset's own test file: --data then holds only training rows
  std::string split = "random80";  // random80 | official | official-val (see prepare.h)
  double val_fraction = 0.2;       // random80, official-val: share of rows held out for validation
  int64_t train_limit = 0;         // > 0: train on only the first N training rows (quick preset)
  int64_t val_limit = 0;           // > 0: validate on only the first N validation rows
  // --- model (Keras: Embedding -> SpatialDropout1D -> LSTM -> Dense(1, sigmoid)) ---
  int64_t vocab = 500;             // vocabulary size, padding included (ids 0..vocab-1)
  int64_t max_len = 100;           // tokens per review after padding/truncation ('pre', as Keras)
  int64_t embed = 100;             // embedding width
  int64_t lstm_size = 100;         // LSTM hidden size
  double spatial_dropout = 0.2;    // drops whole embedding channels per review
  double lstm_dropout = 0.2;       // dropout on the LSTM's inputs
  double recurrent_dropout = 0.2;  // Keras' recurrent_dropout: on h_{t-1}, one mask per review
  std::string init = "keras";      // keras | torch: the initial weights (nn/init.h)
  std::string lstm_impl = "composed";  // composed | fused | persistent
  // --- the stronger model's options (the strong preset turns them on) ---
  int64_t lstm_layers = 1;
  bool bidirectional = false;
  std::string pooling = "last";  // last | max-mean: the head reads h_T, or max and mean over time
  double embed_dropout = 0.0;    // drops whole token vectors (all channels of a token at once)
  // A bag of n-grams beside the LSTM (fastText's features): every word and every hashed pair of
  // neighbouring words of a review, embedded in ngram_dim and averaged; the head reads it with
  // the LSTM's features. 0 buckets = no bag (apps/imdb/ngrams.h).
  int64_t ngram_buckets = 0;
  int64_t ngram_dim = 16;
  // The bag learns this many times faster than the rest under Adam (model.cpp: ngram_bag).
  double ngram_lr_scale = 1.0;
  // --- the model family: lstm (above) or seq2cnn (apps/imdb/seq2cnn.h; the presets seq2cnn and
  // seq2cnn-small set everything it needs) ---
  std::string model = "lstm";      // lstm | seq2cnn
  int64_t conv_channels = 1024;    // seq2cnn: output channels of each convolution
  std::string activation = "elu";  // seq2cnn: elu | leaky-relu, after each convolution
  double activation_alpha = 0.25;  // ELU's alpha, or leaky ReLU's negative slope
  std::string padding = "pre";     // pre | post: where reviews are padded and truncated (Keras)
  std::string oov = "drop";        // drop | unk-last: unknown words vanish, or map to id vocab-1
  // keep | remove: drop data/stopwords_en.txt's words while cleaning. The original configuration
  // removes them: its ~84% needs it (docs/results/imdb-init-cpu.md, "Stopwords").
  std::string stopwords = "remove";
  // --- optimisation ---
  int64_t batch = 100;
  int64_t epochs = 8;
  int64_t patience = 3;    // early stopping on validation loss; 0 = never stop early
  double lr = 1e-3;        // Adam
  double clip_norm = 0.0;  // > 0: clip the global gradient norm to this value
  // --- execution ---
  std::string device = "cpu";      // cpu | cuda (cuda:N also accepted)
  std::string precision = "fp32";  // fp32 | fp16 | bf16
  bool prefetch = false;           // on: data::Prefetcher builds batches on worker threads
  bool data_on_device = false;     // the encoded data kept on the GPU (apps/imdb/device_data.h)
  bool cuda_graph = false;         // the training step replayed as a CUDA Graph (graphed_step.h)
  std::string dist = "auto";       // auto | none | mpi | nccl: the communicator under mpirun/srun
  int64_t threads = 0;             // CPU threads for the math; 0 = all cores
  int64_t pipeline_stages = 1;     // > 1: the network cut into stages over processes (GPipe)
  int64_t micro_batches = 1;       // with stages: each batch cut into this many micro-batches
  uint64_t seed = 42;              // split, shuffles, initial weights, dropout
  std::string out = "runs/imdb";   // output folder (config.json, metrics.jsonl, checkpoints)
  std::string preset;              // "" | quick | full | strong (recorded for the report)
  double target_accuracy = 0.83;   // the study's time-to-accuracy target (validation accuracy)
  bool resume = false;             // continue from <out>/last.safetensors
};

// The preset's changes on top of the defaults. Throws loom::Error for an unknown name.
void apply_preset(Config& c, const std::string& preset);

// A one-paragraph description of what a preset does (for --help and report.md).
std::string describe_preset(const std::string& preset);

// JSON <-> Config. from_json rejects unknown keys and wrong types, naming the key and `source`.
nlohmann::json to_json(const Config& c);
void merge_json(Config& c, const nlohmann::json& j, const std::string& source);
// The raw object of a --config file (only the keys it holds), checked for syntax, unknown keys
// and types; errors name the file.
nlohmann::json read_config_json(const std::string& path);
Config load_config_file(const std::string& path);  // defaults + preset + the file

// Checks every field; throws loom::Error naming the flag and the bad value.
void validate(const Config& c);
// Checks what needs the data: a non-empty training split that holds at least one batch.
void validate_against_data(const Config& c, int64_t train_rows);

// Writes to_json(c) to `path` (pretty-printed, atomic rename).
void write_config(const Config& c, const std::string& path);

// "--max-len" for "max_len": the flag that sets a field (for error messages).
std::string flag_for(const std::string& key);

}  // namespace loom::imdb
