// apps/imdb/checkpoint.h: everything a run needs to continue, in one safetensors file.
//
// Tensors: the model's parameters under PyTorch's names (embedding.weight, lstm.weight_ih_l0,
// ...) and Adam's state under "optimizer.*". Metadata (strings):
//   format        "loom-imdb-checkpoint/1"
//   config        the resolved Config as JSON (the model is rebuilt from it)
//   vocab         the vocabulary as JSON {"num_words", "oov", "words", "counts"}
//   train_state   TrainState as JSON: where the run is, the early-stopping state, the RNG
// Files in <out>: last.safetensors (after every epoch, and when a signal stops the run),
// epoch_NNN.safetensors (one per finished epoch), best.safetensors (the lowest validation loss).
// Writes are atomic (nn/safetensors.h: temporary file, fsync, rename).
// Left out: keeping only the k newest epoch files (they are ~2 MB each at the default sizes).
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "apps/imdb/config.h"
#include "apps/imdb/model.h"
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
TrainState train_state_from_json(const nlohmann::json& j, const std::string& source);

struct Checkpoint {
  Config config;
  data::Vocabulary vocab;
  TrainState state;
  nn::SafetensorsContents file;  // the tensors (load into a model with restore_model)
};

void save_checkpoint(const std::string& path, const Config& config, const data::Vocabulary& vocab,
                     const ImdbModel& model, const TrainState& state);

// Reads and validates a checkpoint; errors name the file and what is wrong (not a checkpoint,
// truncated, missing metadata...).
Checkpoint load_checkpoint(const std::string& path);

// Loads the checkpoint's tensors into `model` (built from checkpoint.config). Errors name the
// tensor that does not fit.
void restore_model(ImdbModel& model, const Checkpoint& checkpoint, const std::string& path,
                   bool with_optimizer);

}  // namespace loom::imdb
