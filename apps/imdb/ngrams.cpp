// apps/imdb/ngrams.cpp: the bag-of-n-grams ids (apps/imdb/ngrams.h).
#include "apps/imdb/ngrams.h"

#include <vector>

#include "tensor/error.h"

namespace loom::imdb {

uint64_t mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Tensor ngram_ids(const Tensor& tokens, int64_t vocab, int64_t buckets) {
  LOOM_CHECK(tokens.defined() && tokens.dim() == 2,
             "ngram_ids: tokens must be [batch, seq_len], got ",
             tokens.defined() ? shape_str(tokens.shape()) : std::string("undefined"));
  LOOM_CHECK(vocab >= 1 && buckets >= 1, "ngram_ids: vocab and buckets must be >= 1, got ", vocab,
             " and ", buckets);
  LOOM_CHECK(vocab + buckets <= INT32_MAX, "ngram_ids: vocab + buckets (", vocab + buckets,
             ") must fit an Int32 id");
  const int64_t B = tokens.size(0), T = tokens.size(1);
  LOOM_CHECK(T >= 1, "ngram_ids: a review needs at least one step");
  // The ids are few (B x T) and the hash is integer work: done on the host, then copied back.
  const std::vector<int32_t> words = tokens.to_vector<int32_t>();
  const int64_t width = 2 * T - 1;
  std::vector<int32_t> ids(static_cast<size_t>(B * width));
  for (int64_t b = 0; b < B; ++b) {
    const int32_t* w = words.data() + b * T;
    int32_t* out = ids.data() + b * width;
    for (int64_t t = 0; t < T; ++t) {
      LOOM_CHECK(w[t] >= 0 && w[t] < vocab, "ngram_ids: token ", w[t], " at [", b, ", ", t,
                 "] is outside the vocabulary [0, ", vocab, ")");
      out[t] = w[t];
    }
    for (int64_t t = 0; t + 1 < T; ++t) {
      const uint64_t a = static_cast<uint64_t>(w[t]), next = static_cast<uint64_t>(w[t + 1]);
      out[T + t] =
          (a == 0 || next == 0)
              ? 0
              : static_cast<int32_t>(
                    vocab + static_cast<int64_t>(mix64(a * static_cast<uint64_t>(vocab) + next) %
                                                 static_cast<uint64_t>(buckets)));
    }
  }
  return from_vector<int32_t>(ids, {B, width}, tokens.device());
}

}  // namespace loom::imdb
