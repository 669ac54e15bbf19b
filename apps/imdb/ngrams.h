// apps/imdb/ngrams.h: the ids of a review's bag of n-grams (fastText's features, Joulin et al.,
// 2016), which --ngram-buckets adds beside the LSTM (apps/imdb/model.cpp).
//
// A review of T token ids (0 = padding) gives 2T - 1 bag ids:
//   [0, T):      each word's own id, 0 where the step is padding;
//   [T, 2T - 1): for each pair of neighbouring words (a, b), both not padding,
//                vocab + hash(a * vocab + b) % buckets; 0 where either is padding.
// hash is splitmix64's finalizer (below), so a pair's bucket is the same on every machine and a
// PyTorch user can recompute it. The model embeds the ids in a table of vocab + buckets rows and
// averages the rows of the non-zero ids: word order reaches the head only through the pairs.
// Buckets, not one row per pair: 20,000 words make 4e8 possible pairs; colliding pairs share a
// row, which costs little accuracy when the buckets outnumber the pairs a corpus uses.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace loom::imdb {

// A well-mixed 64-bit hash: splitmix64's finalizer (Steele, Lea and Flood, 2014).
uint64_t mix64(uint64_t x);

// tokens [B, T] Int32 (ids in [0, vocab)) -> bag ids [B, 2T - 1] Int32 on the tokens' device.
// Throws naming the position of an id outside [0, vocab).
Tensor ngram_ids(const Tensor& tokens, int64_t vocab, int64_t buckets);

}  // namespace loom::imdb
