// apps/imdb/metrics.h: what one epoch measured, and the JSONL file that keeps it.
//
// Every epoch appends one JSON object to <out>/metrics.jsonl (one line, written and fsync'ed
// before the epoch's checkpoints, so a killed run keeps every finished epoch; see trainer.h). The
// study reads these files back to build its report. Times are wall-clock seconds:
//   epoch_time_s  the whole epoch: training steps, batch building and validation
//   data_time_s   time spent building training batches (rows -> tensors), wherever it ran
//   wait_time_s   time the training loop was blocked waiting for a batch; without prefetching
//                 it equals data_time_s, with prefetching it is what the worker could not hide
//   comm_time_s   time in the cross-process collectives of the training steps (the slowest
//                 rank's, waiting for the others included); 0 for one process
// Losses, accuracies and times cover every process of a data-parallel run (world_size).
// loss_scale is written only for fp16 runs (the dynamic loss scaler's value at epoch end).
// Left out: per-step metrics (the progress bar shows them live).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace loom::imdb {

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based
  double epoch_time_s = 0;
  double data_time_s = 0;
  double wait_time_s = 0;
  double train_loss = 0;  // mean over the epoch's batches (with dropout, as Keras reports it)
  double train_acc = 0;
  double val_loss = 0;  // dropout off
  double val_acc = 0;
  double lr = 0;
  bool fp16 = false;  // writes loss_scale when true
  double loss_scale = 0;
  int64_t skipped_steps = 0;  // optimizer steps skipped this epoch for inf/NaN gradients (fp16)
  double samples_per_s = 0;   // training samples / (epoch time without validation)
  bool best = false;          // the best validation loss so far (the checkpoint kept as best)
  int64_t world_size = 1;     // processes that trained (data-parallel, apps/imdb/distributed.h)
  double comm_time_s = 0;     // gradient all-reduce + stop agreement, slowest rank (0: 1 process)
};

nlohmann::json to_json(const EpochMetrics& m);
EpochMetrics epoch_metrics_from_json(const nlohmann::json& j);

// Appends one line to `path` (creating it) and fsyncs it.
void append_metrics(const std::string& path, const EpochMetrics& m);
// Every line of `path`; an empty vector if it does not exist. Throws naming file and line on a
// malformed line, except a malformed last line without its newline: a write cut short by a crash
// or a full disk, which is skipped.
std::vector<EpochMetrics> read_metrics(const std::string& path);
// Rewrites `path` atomically keeping only epochs <= last_epoch (a resumed run drops what it will
// redo, and a torn last line with them).
void truncate_metrics(const std::string& path, int64_t last_epoch);

}  // namespace loom::imdb
