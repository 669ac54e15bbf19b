// apps/imdb/finetune.h: the short training loop that prune and distill share.
//
// Each epoch shuffles the training rows (seeded by config.seed and the epoch), trains on full
// batches of config.batch rows with the caller's loss, calls the caller's after-step hook (where
// pruning re-applies its masks), then scores the validation rows with dropout off:
//   for epoch: for batch: logits = model.forward(tokens); loss = hooks.loss(logits, labels, rows)
//                         model.backward(loss); model.step(); hooks.after_step(step, total)
// It keeps the model as the last epoch leaves it: prune and distill run a fixed number of epochs,
// so a distilled student and one trained alone are compared after the same steps.
// Leaves out: what `imdb train` adds (checkpoints per epoch, early stopping, resume, signals,
// several processes, the progress bar).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <utility>
#include <vector>

#include "apps/imdb/config.h"
#include "apps/imdb/model.h"
#include "apps/imdb/prepare.h"

namespace loom::imdb {

struct FinetuneHooks {
  // The batch's loss from its logits [B, 1], labels [B, 1] and the dataset rows it holds
  // (distill looks up the teacher's logits by row). Empty: the model's own BCE.
  std::function<Variable(const Variable& logits, const Tensor& labels,
                         const std::vector<int64_t>& rows)>
      loss;
  // After optimizer step `step` (1-based) of `total`. Empty: nothing.
  std::function<void(int64_t step, int64_t total)> after_step;
};

struct FinetuneEpoch {
  int64_t epoch = 0;        // 1-based
  double train_loss = 0;    // mean of hooks.loss over the epoch's batches
  double val_loss = 0;      // BCE against the labels, dropout off
  double val_accuracy = 0;  // at threshold 0.5
  double seconds = 0;       // training and validation
};

// The number of optimizer steps `epochs` epochs take (full batches only).
int64_t finetune_steps(const PreparedData& data, const Config& config, int64_t epochs);

// Trains `model` for `epochs` epochs on data.split.train; one line per epoch on `log`.
std::vector<FinetuneEpoch> finetune(ImdbModel& model, const PreparedData& data,
                                    const Config& config, int64_t epochs,
                                    const FinetuneHooks& hooks, std::FILE* log);

// Validation loss and accuracy of `model` on data.split.validation (dropout off).
FinetuneEpoch validate_model(ImdbModel& model, const PreparedData& data, const Config& config);

// Seconds for one eval-mode pass over the validation rows of each model: one warm-up pass
// each, then 3 timed passes alternating a, b, a, b, ... (so both see the same machine load);
// the medians.
std::pair<double, double> time_validation_passes(ImdbModel& a, const PreparedData& da, ImdbModel& b,
                                                 const PreparedData& db, int64_t batch);

}  // namespace loom::imdb
