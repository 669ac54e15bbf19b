// data/dataset.cpp: TokenDataset, SeriesWindowDataset and DataLoader (see dataset.h).
#include "data/dataset.h"

#include <algorithm>

#include "tensor/error.h"

namespace loom::data {

namespace {
void check_rows(const std::vector<int64_t>& rows, int64_t size, const char* op) {
  for (int64_t r : rows)
    LOOM_CHECK(r >= 0 && r < size, op, ": row ", r, " out of range [0, ", size, ")");
}
}  // namespace

TokenDataset::TokenDataset(std::vector<int32_t> tokens, std::vector<float> labels, int64_t seq_len)
    : tokens_(std::move(tokens)), labels_(std::move(labels)), seq_len_(seq_len) {
  LOOM_CHECK(seq_len > 0, "TokenDataset: seq_len must be > 0, got ", seq_len);
  LOOM_CHECK(tokens_.size() == labels_.size() * static_cast<size_t>(seq_len),
             "TokenDataset: tokens hold ", tokens_.size(), " ids, expected [", labels_.size(), ", ",
             seq_len, "] = ", labels_.size() * static_cast<size_t>(seq_len));
}

Batch TokenDataset::get_batch(const std::vector<int64_t>& rows) const {
  check_rows(rows, size(), "TokenDataset::get_batch");
  Batch b;
  b.batch_size = static_cast<int64_t>(rows.size());
  b.seq_len = seq_len_;
  b.tokens.resize(rows.size() * static_cast<size_t>(seq_len_));
  b.labels.resize(rows.size());
  b.indices = rows;
  for (size_t k = 0; k < rows.size(); ++k) {
    const auto src = tokens_.begin() + rows[k] * seq_len_;
    std::copy(src, src + seq_len_, b.tokens.begin() + static_cast<int64_t>(k) * seq_len_);
    b.labels[k] = labels_[static_cast<size_t>(rows[k])];
  }
  return b;
}

SeriesWindowDataset::SeriesWindowDataset(std::vector<float> values, int64_t window, int64_t horizon)
    : values_(std::move(values)), window_(window), horizon_(horizon) {
  LOOM_CHECK(window > 0 && horizon > 0, "SeriesWindowDataset: window and horizon must be > 0, got ",
             window, " and ", horizon);
  LOOM_CHECK(static_cast<int64_t>(values_.size()) >= window + horizon,
             "SeriesWindowDataset: ", values_.size(),
             " values are fewer than window + horizon = ", window + horizon);
}

int64_t SeriesWindowDataset::size() const {
  return static_cast<int64_t>(values_.size()) - window_ - horizon_ + 1;
}

Batch SeriesWindowDataset::get_batch(const std::vector<int64_t>& rows) const {
  check_rows(rows, size(), "SeriesWindowDataset::get_batch");
  Batch b;
  b.batch_size = static_cast<int64_t>(rows.size());
  b.seq_len = window_;
  b.label_dim = horizon_;
  b.indices = rows;
  for (int64_t r : rows) {
    b.features.insert(b.features.end(), values_.begin() + r, values_.begin() + r + window_);
    b.labels.insert(b.labels.end(), values_.begin() + r + window_,
                    values_.begin() + r + window_ + horizon_);
  }
  return b;
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset,
                       std::shared_ptr<const Sampler> sampler, LoaderOptions options)
    : dataset_(std::move(dataset)), sampler_(std::move(sampler)), options_(options) {
  LOOM_CHECK(dataset_ != nullptr && sampler_ != nullptr, "DataLoader: null dataset or sampler");
  LOOM_CHECK(options_.batch_size > 0, "DataLoader: batch_size must be > 0, got ",
             options_.batch_size);
  LOOM_CHECK(sampler_->size() > 0, "DataLoader: the sampler yields no rows (empty dataset?)");
  LOOM_CHECK(!options_.drop_last || options_.batch_size <= sampler_->size(),
             "DataLoader: batch_size ", options_.batch_size, " is larger than the ",
             sampler_->size(), " rows per epoch and drop_last is set: no batch would be produced");
}

void DataLoader::set_epoch(int64_t epoch) {
  order_ = sampler_->indices(epoch);
  LOOM_CHECK(static_cast<int64_t>(order_.size()) == sampler_->size(),
             "DataLoader: the sampler returned ", order_.size(), " rows, expected ",
             sampler_->size());
  check_rows(order_, dataset_->size(), "DataLoader::set_epoch");
  epoch_ = epoch;
}

int64_t DataLoader::num_batches() const {
  const int64_t n = sampler_->size();
  return options_.drop_last ? n / options_.batch_size
                            : (n + options_.batch_size - 1) / options_.batch_size;
}

Batch DataLoader::batch(int64_t i) const {
  LOOM_CHECK(epoch_ >= 0, "DataLoader::batch: call set_epoch() first");
  LOOM_CHECK(i >= 0 && i < num_batches(), "DataLoader::batch: batch ", i, " out of range [0, ",
             num_batches(), ")");
  const int64_t begin = i * options_.batch_size;
  const int64_t end =
      std::min<int64_t>(begin + options_.batch_size, static_cast<int64_t>(order_.size()));
  return dataset_->get_batch(std::vector<int64_t>(order_.begin() + begin, order_.begin() + end));
}

}  // namespace loom::data
