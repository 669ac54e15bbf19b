// apps/imdb/device_data.h: the encoded dataset kept on the training device
// (`imdb train --data-on-device`): copied once, and each batch gathered there by index_select.
//
//   DeviceDataset data(d.tokens, d.labels, d.max_len, Device("cuda:0"));   // the one big copy
//   data.set_order(sampler.indices(epoch));               // one upload per epoch, 8 bytes a row
//   const auto [tokens, labels] = data.gather(data.batch_rows(k, 100));   // batch k, no copy
//
// At the default sizes the token matrix is 50,000 x 100 int32, 20 MB: it fits any GPU. A step
// then copies nothing from the host. index_select checks its rows and reads that check back
// (an implicit host sync, cuda/runtime/sync_debug.h); inside a CUDA Graph (--cuda-graph) the
// read-back is skipped, so a graphed step with the data on the device reads nothing on the host.
// Works on any device (the tests run it on the CPU too); the app asks for it on a GPU only.
// Leaves out: numeric-series data (data::SeriesWindowDataset), label columns > 1.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "tensor/device.h"
#include "tensor/tensor.h"

namespace loom::imdb {

class DeviceDataset {
 public:
  // tokens [n, seq_len] row-major and labels [n], copied to `device`; n = labels.size() >= 1.
  DeviceDataset(const std::vector<int32_t>& tokens, const std::vector<float>& labels,
                int64_t seq_len, Device device);

  int64_t size() const { return tokens_.size(0); }
  const Tensor& tokens() const { return tokens_; }  // [n, seq_len] Int32
  const Tensor& labels() const { return labels_; }  // [n, 1] Float32

  // An epoch's rows in visiting order, each checked against size() on the host; one upload.
  void set_order(const std::vector<int64_t>& rows);
  // The rows of batch k of that order: order[k * batch, k * batch + batch), the last batch
  // possibly shorter. A view of the uploaded order: Int64 [rows] on the device.
  Tensor batch_rows(int64_t k, int64_t batch) const;
  // tokens [m, seq_len] Int32 and labels [m, 1] Float32 of `rows` (Int64 [m] on the device).
  std::pair<Tensor, Tensor> gather(const Tensor& rows) const;

 private:
  Tensor tokens_, labels_;  // on the device
  Tensor order_;            // Int64 [rows of the epoch] on the device; undefined before set_order
};

}  // namespace loom::imdb
