// nn/embedding.h: Embedding, a table of vectors looked up by integer id.
//
// Shapes: ids [...] (Int64 or Int32, values in [0, num_embeddings)) -> [..., embedding_dim];
// weight [num_embeddings, embedding_dim] (PyTorch's name and layout). Initialised N(0, 1) as
// PyTorch does, or U(-0.05, 0.05) as Keras does (EmbeddingOptions::init, nn/init.h). With
// padding_idx, that row is zero at init and never receives a gradient, so it stays zero through
// training (the IMDB model pads reviews with id 0).
//
// forward = index_select of rows; backward = index_add of the gradient rows into a zero
// [V, E] table, then the padding row cleared. Both are one pass over the looked-up rows.
//
// Leaves out: max_norm renormalisation, sparse gradients, EmbeddingBag.
#pragma once

#include <optional>

#include "nn/init.h"
#include "nn/module.h"
#include "tensor/generator.h"

namespace loom::nn {

struct EmbeddingOptions {
  EmbeddingOptions(int64_t num_embeddings, int64_t embedding_dim)
      : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
  // A negative index counts from the end, as in PyTorch.
  EmbeddingOptions& padding_idx(int64_t idx) {
    padding_idx_ = idx;
    return *this;
  }
  EmbeddingOptions& dtype(DType d) {
    dtype_ = d;
    return *this;
  }
  EmbeddingOptions& init(InitScheme s) {
    init_ = s;
    return *this;
  }
  int64_t num_embeddings_, embedding_dim_;
  std::optional<int64_t> padding_idx_;
  DType dtype_ = DType::Float32;
  InitScheme init_ = InitScheme::Torch;
};

// The lookup as a function: weight [V, E], ids [...] -> [..., E]; the gradient of the
// padding row (if any, already normalised to [0, V)) is zero.
Variable embedding(const Variable& weight, const Tensor& ids,
                   std::optional<int64_t> padding_idx = std::nullopt);

class Embedding : public Module {
 public:
  explicit Embedding(const EmbeddingOptions& options, Generator& gen = default_generator());
  // Embedding takes ids, not a differentiable input.
  Variable forward(const Tensor& ids);
  Variable forward(const Variable& ids) override { return forward(ids.data()); }

  const EmbeddingOptions& options() const { return options_; }
  std::optional<int64_t> padding_idx() const { return padding_idx_; }  // in [0, V)
  Variable weight;  // [num_embeddings, embedding_dim]

 private:
  EmbeddingOptions options_;
  std::optional<int64_t> padding_idx_;
};

}  // namespace loom::nn
