// apps/imdb/trainer.h: the training loop: epochs, early stopping, checkpoints, metrics, signals.
//
// One epoch:
//   loader.set_epoch(e)  -> the shuffled order of the training rows (a pure function of seed, e)
//   batches: built inline (--prefetch off) or by a data::Prefetcher worker thread (on); both
//            report the time spent building batches and the time the loop waited for one
//   step:    forward, BCE-with-logits loss, backward, (clip), Adam; running loss and accuracy
//   after each step: a stop signal (signals.h) -> save last.safetensors mid-epoch and return
//   validation (dropout off) -> metrics.jsonl line (fsync'ed), then the epoch_NNN, best and
//            last checkpoints: last.safetensors is the commit point, and a resume drops any
//            metrics line after it, so a crash between the two never loses or repeats an epoch
//   a NaN or inf loss (training or validation) -> loom::Error before anything of the epoch is
//            saved; the files in --out stay the last good state
//   early stopping: stop after `patience` epochs without a lower validation loss; the best
//            weights stay in best.safetensors
// --resume loads <out>/last.safetensors: weights, Adam state, the generator's offset (dropout),
// the epoch and step reached and the early-stopping state, so the resumed run continues with the
// same batches and masks as if it had never stopped (tests/apps/ checks the final weights).
// Data-parallel (options.parallel on several processes, see distributed.h): each rank trains its
// share of every global batch, the gradients are averaged before the step, metrics are reduced,
// the ranks agree after every step whether a stop signal arrived, and only rank 0 writes files.
// An epoch is floor(training rows / batch) full batches at every world size.
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
