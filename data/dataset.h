// data/dataset.h: datasets that cut batches, and the DataLoader that walks one epoch of them.
//
// Dataset::get_batch(rows) is const and thread-safe, so Prefetcher workers (prefetcher.h) may
// build several batches at once. DataLoader = Dataset + Sampler + batch size:
//
//   auto ds = std::make_shared<TokenDataset>(tokens, labels, 100);        // [n, 100], [n]
//   DataLoader loader(ds, std::make_shared<RandomSampler>(ds->size(), 42), {100, false});
//   loader.set_epoch(e);                                                   // fixes the order
//   for (int64_t b = 0; b < loader.num_batches(); ++b) use(loader.batch(b));
//
// drop_last drops a final partial batch; when that would leave no batch at all (batch_size larger
// than the epoch) the constructor throws, naming both sizes, instead of training on nothing.
// Left out: collate functions, variable-length batches.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "data/batch.h"
#include "data/sampler.h"

namespace loom::data {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // The batch holding `rows` in that order (rows checked against size()).
  virtual Batch get_batch(const std::vector<int64_t>& rows) const = 0;
};

// Encoded texts: tokens [n, seq_len] (encode.h's output) and labels [n].
class TokenDataset : public Dataset {
 public:
  TokenDataset(std::vector<int32_t> tokens, std::vector<float> labels, int64_t seq_len);
  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  int64_t seq_len() const { return seq_len_; }
  Batch get_batch(const std::vector<int64_t>& rows) const override;

 private:
  std::vector<int32_t> tokens_;  // [n, seq_len]
  std::vector<float> labels_;    // [n]
  int64_t seq_len_;
};

// Sliding windows over one numeric series, for forecasting: row r has
// features = values[r, r + window) and labels = values[r + window, r + window + horizon).
class SeriesWindowDataset : public Dataset {
 public:
  SeriesWindowDataset(std::vector<float> values, int64_t window, int64_t horizon = 1);
  int64_t size() const override;  // values.size() - window - horizon + 1
  Batch get_batch(const std::vector<int64_t>& rows) const override;

 private:
  std::vector<float> values_;
  int64_t window_, horizon_;
};

struct LoaderOptions {
  int64_t batch_size = 100;  // > 0
  bool drop_last = false;    // drop the final partial batch
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Sampler> sampler,
             LoaderOptions options);

  // Fixes the row order for `epoch`. Not thread-safe: call it before starting a Prefetcher.
  void set_epoch(int64_t epoch);
  int64_t epoch() const { return epoch_; }

  int64_t num_batches() const;
  // Batch i of the current epoch, 0 <= i < num_batches(). Thread-safe between set_epoch calls.
  Batch batch(int64_t i) const;

  const Dataset& dataset() const { return *dataset_; }
  const LoaderOptions& options() const { return options_; }

 private:
  std::shared_ptr<const Dataset> dataset_;
  std::shared_ptr<const Sampler> sampler_;
  LoaderOptions options_;
  int64_t epoch_ = -1;
  std::vector<int64_t> order_;  // [sampler->size()] rows of the current epoch
};

}  // namespace loom::data
