// nn/embedding.cpp: the embedding lookup (forward and backward side by side) and the module.
#include "nn/embedding.h"

#include "autograd/node.h"
#include "nn/init.h"
#include "tensor/ops.h"

namespace loom::nn {

// y = weight[ids]: weight [V, E], ids [...] -> y [..., E].
// dweight = zeros [V, E] with each gradient row added at its id (an id seen twice gets both),
// the padding row left at zero. Saves only the flattened ids.
Variable embedding(const Variable& weight, const Tensor& ids, std::optional<int64_t> padding_idx) {
  LOOM_CHECK(weight.dim() == 2, "embedding: weight must be [V, E], got ",
             shape_str(weight.shape()));
  LOOM_CHECK(ids.defined() && (ids.dtype() == DType::Int64 || ids.dtype() == DType::Int32),
             "embedding: ids must be an Int64 or Int32 tensor, got ",
             ids.defined() ? dtype_name(ids.dtype()) : "undefined");
  const Tensor flat = ids.reshape({ids.numel()});
  Shape out_shape = ids.shape();
  out_shape.push_back(weight.size(1));
  // index_select checks every id against V and names the offending position.
  Tensor y = index_select(weight.data(), 0, flat).view(out_shape);
  struct Saved {
    Tensor ids;  // [N] flattened
  };
  return record("EmbeddingBackward", y, {weight}, Saved{flat},
                [sw = weight.shape(), padding_idx](const Tensor& g, const Saved& s) {
                  Tensor dw = zeros(sw, TensorOptions(g.dtype(), g.device()));
                  const Tensor& idx = s.ids;
                  index_add_(dw, 0, idx, g.reshape({idx.numel(), sw[1]}));
                  if (padding_idx) dw.select(0, *padding_idx).fill_(0);
                  return std::vector<Tensor>{dw};
                });
}

Embedding::Embedding(const EmbeddingOptions& options, Generator& gen)
    : Module("Embedding"), options_(options) {
  const int64_t V = options.num_embeddings_, E = options.embedding_dim_;
  LOOM_CHECK(V > 0 && E > 0, "Embedding: num_embeddings and embedding_dim must be > 0, got ", V,
             " and ", E);
  if (options.padding_idx_) {
    const int64_t p = *options.padding_idx_;
    LOOM_CHECK(p >= -V && p < V, "Embedding: padding_idx ", p, " is out of range for ", V,
               " embeddings");
    padding_idx_ = p < 0 ? p + V : p;
  }
  Tensor w = empty({V, E}, options.dtype_);
  if (options.init_ == InitScheme::Keras)
    init::uniform_(w, -0.05, 0.05, gen);  // Keras' Embedding default
  else
    init::normal_(w, 0.0, 1.0, gen);
  if (padding_idx_) w.select(0, *padding_idx_).fill_(0);
  weight = register_parameter("weight", Variable(w));
}

Variable Embedding::forward(const Tensor& ids) {
  return embedding(weight, ids, padding_idx_);
}

}  // namespace loom::nn
