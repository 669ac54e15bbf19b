// apps/imdb/trainer.h: the training loop: epochs, early stopping, checkpoints, metrics, signals.
//
// One epoch:
//   loader.set_epoch(e)  -> the shuffled order of the training rows (a pure function of seed, e)
//   batches: built inline (--prefetch off) or by a data::Prefetcher worker (on); both report the
//            time spent building batches and the time the loop waited for one
//   step:    forward, BCE-with-logits loss, backward, (clip), Adam; running loss and accuracy;
//            then a stop signal (signals.h) -> save last.safetensors mid-epoch and return
//   validation (dropout off) -> metrics.jsonl line, then the epoch_NNN, best and last checkpoints
//            (last is the commit point: docs/guarantees.md); a NaN or inf loss throws first
//   early stopping: after `patience` epochs without a lower validation loss (best.safetensors)
// --resume loads <out>/last.safetensors and continues with the same batches and dropout masks as
// if the run had never stopped (apps/imdb/README.md, "Training runs you can stop"). On several
// processes (options.parallel): the rules of distributed.h; only rank 0 writes files.
// Left out: learning-rate schedules, gradient accumulation, fp16 (see model.h).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "apps/imdb/checkpoint.h"
#include "apps/imdb/config.h"
#include "apps/imdb/metrics.h"
#include "apps/imdb/prepare.h"

namespace loom::imdb {

class DataParallel;

struct TrainOptions {
  std::FILE* log = stdout;
  bool interactive = false;      // progress bar (see progress.h)
  int64_t stop_after_steps = 0;  // > 0: act as if SIGINT arrived after this many steps (tests)
  const Checkpoint* resume_from = nullptr;  // continue from this checkpoint (config.resume)
  DataParallel* parallel = nullptr;         // the job's processes; nullptr = this one alone
};

struct TrainResult {
  bool stopped = false;  // by a signal (or stop_after_steps): last.safetensors holds the state
  int signal = 0;
  TrainState state;
  std::vector<EpochMetrics> epochs;  // the epochs run by this call
};

// Trains into config.out (which must exist on rank 0) on `data` (its vocabulary goes into the
// checkpoints). Collective when options.parallel spans several processes: every rank calls it.
TrainResult train_model(const Config& config, const PreparedData& data,
                        const TrainOptions& options);

// "<out>/epoch_003.safetensors" etc.
std::string checkpoint_path(const Config& config, const std::string& name);

}  // namespace loom::imdb
