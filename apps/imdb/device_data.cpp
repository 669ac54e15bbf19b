// apps/imdb/device_data.cpp: see device_data.h.
#include "apps/imdb/device_data.h"

#include <algorithm>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace loom::imdb {

DeviceDataset::DeviceDataset(const std::vector<int32_t>& tokens, const std::vector<float>& labels,
                             int64_t seq_len, Device device) {
  const int64_t n = static_cast<int64_t>(labels.size());
  LOOM_CHECK(n > 0 && seq_len > 0 && static_cast<int64_t>(tokens.size()) == n * seq_len,
             "DeviceDataset: expected tokens [n, seq_len] and labels [n] with n, seq_len > 0; "
             "got ",
             tokens.size(), " tokens, ", n, " labels, seq_len ", seq_len);
  tokens_ = from_vector<int32_t>(tokens, {n, seq_len}, device);
  labels_ = from_vector<float>(labels, {n, 1}, device);
}

void DeviceDataset::set_order(const std::vector<int64_t>& rows) {
  LOOM_CHECK(!rows.empty(), "DeviceDataset::set_order: an empty order");
  for (std::size_t i = 0; i < rows.size(); ++i)
    LOOM_CHECK(rows[i] >= 0 && rows[i] < size(), "DeviceDataset::set_order: rows[", i,
               "] = ", rows[i], " is not a row of the dataset [0, ", size(), ")");
  order_ = from_vector<int64_t>(rows, {static_cast<int64_t>(rows.size())}, tokens_.device());
}

Tensor DeviceDataset::batch_rows(int64_t k, int64_t batch) const {
  const int64_t m = order_.defined() ? order_.size(0) : 0;
  const int64_t batches = batch > 0 ? (m + batch - 1) / batch : 0;
  LOOM_CHECK(batch > 0 && k >= 0 && k < batches, "DeviceDataset::batch_rows: batch ", k,
             " of size ", batch, " is outside the ", batches, " batches of the current order (", m,
             " rows; set_order first)");
  return order_.narrow(0, k * batch, std::min(batch, m - k * batch));
}

std::pair<Tensor, Tensor> DeviceDataset::gather(const Tensor& rows) const {
  return {index_select(tokens_, 0, rows), index_select(labels_, 0, rows)};
}

}  // namespace loom::imdb
