// apps/imdb/running_score.cpp: see running_score.h.
#include "apps/imdb/running_score.h"

#include "tensor/ops.h"

namespace loom::imdb {

RunningScore::RunningScore(Device device, double loss_sum, double correct)
    : loss_sum_(scalar_tensor(loss_sum, {DType::Float64, device})),
      correct_(scalar_tensor(correct, {DType::Float64, device})),
      zero_(scalar_tensor(0.0, {DType::Float32, device})) {}

void RunningScore::add(const Tensor& mean_loss, const Tensor& logits, const Tensor& labels,
                       int64_t rows) {
  LOOM_CHECK(logits.shape() == labels.shape() && logits.numel() == rows,
             "RunningScore::add: logits ", shape_str(logits.shape()), " and labels ",
             shape_str(labels.shape()), " must both hold the batch's ", rows, " rows");
  // The host loop did `sum += double(loss) * rows`: the same two roundings, in double.
  loss_sum_ = loom::add(loss_sum_, mul(cast(mean_loss, DType::Float64), static_cast<double>(rows)));
  // Under autocast the logits may be float16; widening is exact, as the host read was.
  const Tensor z = logits.dtype() == DType::Float32 ? logits : cast(logits, DType::Float32);
  const Tensor hits = eq(ge(z, zero_), gt(labels, 0.5));            // Bool [rows, 1]
  correct_ = loom::add(correct_, sum(cast(hits, DType::Float64)));  // exact: whole numbers < 2^53
}

void RunningScore::read(double& loss_sum, double& correct) const {
  loss_sum = loss_sum_.item<double>();
  correct = correct_.item<double>();
}

}  // namespace loom::imdb
