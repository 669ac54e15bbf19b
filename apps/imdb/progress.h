// apps/imdb/progress.h: what a training run prints while it works.
//
// On a terminal (isatty(stdout)) one line is redrawn in place with '\r' at most ten times a
// second:   epoch 2/8 [=========>          ] 180/400  loss 0.4123  acc 0.812  1530 samples/s  ETA
// 14s In a file (Slurm logs, pipes) nothing is printed per batch, only one plain line per epoch, so
// logs stay readable. Both modes print the same epoch summary line.
// Left out: colours, multi-line dashboards.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>

#include "apps/imdb/metrics.h"

namespace loom::imdb {

class Progress {
 public:
  // `interactive`: draw the bar (normally isatty(fileno(out))).
  Progress(std::FILE* out, bool interactive, int64_t epochs);

  // Starts epoch `epoch` (1-based) of `batches` batches.
  void begin_epoch(int64_t epoch, int64_t batches);
  // Whether step(done, ...) would draw now: a caller whose numbers cost something to get (a
  // read from the GPU) asks first.
  bool due(int64_t done) const;
  // After `done` batches: running mean loss and accuracy, samples seen this epoch.
  void step(int64_t done, double loss, double acc, int64_t samples);
  // Clears the bar and prints the epoch summary line.
  void end_epoch(const EpochMetrics& m);

  static bool stdout_is_terminal();

 private:
  std::FILE* out_;
  bool interactive_;
  int64_t epochs_, epoch_ = 0, batches_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace loom::imdb
