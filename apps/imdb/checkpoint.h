// apps/imdb/checkpoint.h: everything a run needs to continue, in one safetensors file.
//
// Tensors: the model's parameters under PyTorch's names (embedding.weight, lstm.weight_ih_l0,
// ...), Adam's state under "optim.<param>.<buffer>" and the fp16 loss scaler's under "scaler.*";
// metadata: the config, the vocabulary and the TrainState (checkpoint_format.h, which also
// reads them back). Every name, dtype and key: apps/imdb/README.md, "Checkpoints".
// Files in <out>: last.safetensors (after every epoch, and when a signal stops the run),
// epoch_NNN.safetensors (one per finished epoch), best.safetensors (the lowest validation loss).
// Writes are atomic (nn/safetensors.h: temporary file, fsync, rename). A checkpoint is only ever
// written with finite weights and sums: a run whose loss turns NaN or inf stops before writing.
// Left out: keeping only the k newest epoch files (they are ~2 MB each at the default sizes).
#pragma once

#include <string>

#include "apps/imdb/checkpoint_format.h"
#include "apps/imdb/config.h"
#include "apps/imdb/model.h"
#include "data/vocab.h"

namespace loom::imdb {

void save_checkpoint(const std::string& path, const Config& config, const data::Vocabulary& vocab,
                     const ImdbModel& model, const TrainState& state);
// The same with the tensors given: a pipelined run's stages gathered (pipeline.h).
void save_checkpoint(const std::string& path, const Config& config, const data::Vocabulary& vocab,
                     const std::vector<nn::TensorRecord>& records, const TrainState& state);

// Loads the checkpoint's tensors into `model` (built from checkpoint.config). Errors name the
// tensor that does not fit.
void restore_model(ImdbModel& model, const Checkpoint& checkpoint, const std::string& path,
                   bool with_optimizer);

}  // namespace loom::imdb
