// nn/distributed/metrics.h: training metrics summed over ranks, so rank 0 reports the
// whole job's numbers, not its own shard's.
//
//   MetricTotals mine;                                   // per rank, over one epoch
//   mine.add_batch(loss.item<double>(), batch_size, correct);
//   mine.time_s = epoch_seconds;
//   const MetricTotals all = reduce_metrics(*comm, mine);   // collective: every rank calls it
//   if (comm->is_root()) print(all.mean_loss(), all.accuracy(), all.count / all.time_s);
//
// Sums are exact for what they count: the loss is kept as a sum over samples (a batch's mean
// times its size), so the global mean loss weighs every sample once even if shards' last
// batches differ in size. Times are *not* summed: each time is the slowest rank's, because in
// synchronous data parallelism every step waits for the slowest rank (a mean would hide a
// straggler).
// Leaves out: per-rank breakdowns (print them on each rank if needed), percentiles.
#pragma once

#include <cstdint>

#include "nn/distributed/communicator.h"

namespace loom::nn::distributed {

struct MetricTotals {
  double loss_sum = 0;     // sum over samples of the per-sample loss
  double correct = 0;      // correctly classified samples
  double count = 0;        // samples seen
  double time_s = 0;       // wall time of the span (after reduce_metrics: the slowest rank's)
  double data_time_s = 0;  // building batches
  double wait_time_s = 0;  // waiting for a batch

  // Adds a batch whose loss was reduced by the mean over its `batch_size` rows.
  void add_batch(double mean_loss, int64_t batch_size, int64_t num_correct);
  double mean_loss() const { return count > 0 ? loss_sum / count : 0.0; }
  double accuracy() const { return count > 0 ? correct / count : 0.0; }
};

// Collective (two host all-reduces): loss_sum, correct and count summed over ranks; the times
// are the maximum over ranks. Every rank receives the same result.
MetricTotals reduce_metrics(Communicator& comm, const MetricTotals& mine);

}  // namespace loom::nn::distributed
