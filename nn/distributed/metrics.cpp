// nn/distributed/metrics.cpp: MetricTotals and reduce_metrics (see metrics.h).
#include "nn/distributed/metrics.h"

#include "tensor/error.h"

namespace loom::nn::distributed {

void MetricTotals::add_batch(double mean_loss, int64_t batch_size, int64_t num_correct) {
  LOOM_CHECK(batch_size >= 0 && num_correct >= 0 && num_correct <= batch_size,
             "MetricTotals::add_batch: need 0 <= correct <= batch size, got correct ", num_correct,
             " of ", batch_size);
  loss_sum += mean_loss * static_cast<double>(batch_size);
  correct += static_cast<double>(num_correct);
  count += static_cast<double>(batch_size);
}

MetricTotals reduce_metrics(Communicator& comm, const MetricTotals& mine) {
  const std::vector<double> sums = comm.all_reduce_sum({mine.loss_sum, mine.correct, mine.count});
  const std::vector<double> maxes =
      comm.all_reduce_max({mine.time_s, mine.data_time_s, mine.wait_time_s});
  MetricTotals all;
  all.loss_sum = sums[0];
  all.correct = sums[1];
  all.count = sums[2];
  all.time_s = maxes[0];
  all.data_time_s = maxes[1];
  all.wait_time_s = maxes[2];
  return all;
}

}  // namespace loom::nn::distributed
