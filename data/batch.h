// data/batch.h: a batch as plain vectors, ready to be copied into tensors.
//
// data/ sits below the tensor library's ops, so a batch is a plain struct; the training program
// wraps it in loom::Tensor (tokens -> Int32 [batch, seq_len], features -> Float32
// [batch, seq_len], labels -> Float32 [batch, label_dim]). Text batches fill `tokens`, numeric
// series batches fill `features`; the other stays empty.
#pragma once

#include <cstdint>
#include <vector>

namespace loom::data {

struct Batch {
  int64_t batch_size = 0;        // rows in this batch (the last one may be smaller)
  int64_t seq_len = 0;           // columns of tokens / features
  int64_t label_dim = 1;         // columns of labels
  std::vector<int32_t> tokens;   // [batch_size, seq_len] row-major, or empty
  std::vector<float> features;   // [batch_size, seq_len] row-major, or empty
  std::vector<float> labels;     // [batch_size, label_dim] row-major
  std::vector<int64_t> indices;  // [batch_size] the dataset rows in this batch
};

}  // namespace loom::data
