// apps/imdb/running_score.h: the epoch's running loss and accuracy sums, kept on the device that
// computes them and read on the host only when someone looks (the progress bar, the end of the
// epoch, a checkpoint).
//
// Summing on the host would read each batch's loss and logits there: on a GPU an implicit host
// sync (cuda/runtime/sync_debug.h) that idles the GPU while the host launches the next step. Here a
// step only enqueues a few tiny kernels. The sums are float64 tensors and each step adds exactly
// what a host loop would (the float loss widened to double, times the rows; a 0/1 per correct row),
// in the same order, so the numbers are the same to the last bit.
//
//   RunningScore score(device, st.loss_sum, st.correct);   // carry on from a resumed epoch
//   score.add(loss.data(), logits.data(), labels, rows);   // every step: no host read
//   score.read(st.loss_sum, st.correct);                   // when printed or saved: one read
//
// Left out: the number of rows (the host knows it), other metrics (precision, recall: the
// validation pass computes those).
#pragma once

#include <cstdint>

#include "tensor/device.h"
#include "tensor/tensor.h"

namespace loom::imdb {

class RunningScore {
 public:
  // Sums on `device`, starting from the given values (0 at the start of an epoch).
  RunningScore(Device device, double loss_sum = 0, double correct = 0);

  // One batch of `rows` rows: `mean_loss` the batch's mean loss (0-d), `logits` [rows, 1] and
  // `labels` [rows, 1] (1 = positive), all on the device. A row is correct when
  // (logit >= 0) == (label > 0.5). Enqueues device work only.
  void add(const Tensor& mean_loss, const Tensor& logits, const Tensor& labels, int64_t rows);

  // The sums so far, read back to the host (on a GPU: waits for the work queued before).
  void read(double& loss_sum, double& correct) const;

 private:
  Tensor loss_sum_, correct_;  // 0-d float64 on the device
  Tensor zero_;                // 0-d float32 0: the logit threshold
};

}  // namespace loom::imdb
