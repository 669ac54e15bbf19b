// apps/imdb/checkpoint_format.h: what an imdb checkpoint holds besides the model's tensors, and
// the checks a file must pass before anything uses it.
//
// A checkpoint is one safetensors file (nn/safetensors.h) with four metadata strings:
//   format        "loom-imdb-checkpoint/1"
//   config        the resolved Config as JSON (the model is rebuilt from it)
//   vocab         the vocabulary as JSON {"num_words", "oov", "words", "counts"}
//   train_state   TrainState as JSON: where the run is, the early-stopping state, the RNG
// Nothing here needs the model, so the fuzz target tests/fuzz/fuzz_checkpoint.cpp compiles this
// file alone: every string is parsed as untrusted input and any problem is a loom::Error naming
// the file and the key, never another exception.
// A plain state_dict (the tensors alone) is read by plain_state_dict.h instead.
// Left out: reading checkpoints of other formats (PyTorch's own files load with nn/serialize.h).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/imdb/config.h"
#include "data/vocab.h"
#include "nn/safetensors.h"

namespace loom::imdb {

// Where a run stands. A run stopped between epochs has step_in_epoch = 0; a run stopped by a
// signal mid-epoch records the step reached and the epoch's running sums, so --resume replays
// the rest of that epoch with the same batches and dropout masks.
struct TrainState {
  int64_t epoch = 0;  // 0-based epoch in progress (= epochs finished when step_in_epoch = 0)
  int64_t step_in_epoch = 0;  // batches of `epoch` already trained
  int64_t global_step = 0;    // optimizer steps so far
  // running sums of the partial epoch (mid-epoch checkpoints only)
  double loss_sum = 0, correct = 0, seen = 0, data_time = 0, wait_time = 0, train_time = 0;
  // early stopping
  double best_val_loss = std::numeric_limits<double>::infinity();
  int64_t best_epoch = 0;  // 1-based; 0 = none yet
  int64_t bad_epochs = 0;  // epochs since the best
  bool finished = false;   // training ended (epochs done or early stop)
  // loom's default generator (dropout masks): seed and counter offset
  uint64_t rng_seed = 0, rng_offset = 0;
};

nlohmann::json to_json(const TrainState& s);
// Throws loom::Error naming `source` and the key for a missing, mistyped or out-of-range field.
TrainState train_state_from_json(const nlohmann::json& j, const std::string& source);

struct Checkpoint {
  Config config;
  data::Vocabulary vocab;
  TrainState state;
  nn::SafetensorsContents file;  // the tensors (load into a model with restore_model)
  bool plain = false;  // a plain state_dict (plain_state_dict.h): no training state, no run
};

// The metadata strings of a checkpoint of this run.
std::map<std::string, std::string> checkpoint_metadata(const Config& config,
                                                       const data::Vocabulary& vocab,
                                                       const TrainState& state);

// Reads the metadata of a decoded file and checks that the tensors are finite; errors name
// `path` (not a checkpoint, corrupt metadata, a config that fails validate(), NaN/inf weights).
Checkpoint checkpoint_from_contents(nn::SafetensorsContents file, const std::string& path);

// load_safetensors + checkpoint_from_contents.
Checkpoint load_checkpoint(const std::string& path);

// "" when every floating-point record is finite, else which one is not and how many of its
// values are NaN or inf.
std::string describe_non_finite(const std::vector<nn::TensorRecord>& records);

}  // namespace loom::imdb
