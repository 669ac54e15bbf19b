// data/encode.cpp: padding/truncation and the parallel clean/encode loops (see encode.h).
#include "data/encode.h"

#include <algorithm>
#include <type_traits>

#include "data/big_buffer.h"
#include "data/parallel.h"
#include "tensor/error.h"

namespace loom::data {

void pad_or_truncate(const std::vector<int32_t>& ids, const EncodeOptions& options, int32_t* out) {
  LOOM_CHECK(options.max_len > 0, "pad_or_truncate: max_len must be > 0, got ", options.max_len);
  const auto len = static_cast<int64_t>(ids.size());
  const int64_t max_len = options.max_len;
  const int64_t keep = std::min(len, max_len);
  // 'pre' truncation drops the beginning, so the kept ids start at len - keep.
  const int64_t src = options.truncating == PadSide::Pre ? len - keep : 0;
  const int64_t dst = options.padding == PadSide::Pre ? max_len - keep : 0;
  std::fill(out, out + max_len, Vocabulary::kPad);
  std::copy(ids.begin() + src, ids.begin() + src + keep, out + dst);
}

namespace {
template <typename TextOf>
std::vector<std::string> clean_all(int64_t n, TextOf text_of, const TextPipeline& pipeline,
                                   int threads) {
  std::vector<std::string> cleaned(static_cast<size_t>(n));
  parallel_chunks(n, threads, [&](int64_t begin, int64_t end, int64_t) {
    for (int64_t i = begin; i < end; ++i)
      pipeline.clean(text_of(i), cleaned[i]);
  });
  return cleaned;
}
}  // namespace

std::vector<std::string> clean_texts(const std::vector<std::string>& texts,
                                     const TextPipeline& pipeline, int threads) {
  return clean_all(
      static_cast<int64_t>(texts.size()), [&](int64_t i) -> const std::string& { return texts[i]; },
      pipeline, threads);
}

std::vector<std::string> clean_texts(const std::vector<TextExample>& examples,
                                     const TextPipeline& pipeline, int threads) {
  return clean_all(
      static_cast<int64_t>(examples.size()),
      [&](int64_t i) -> const std::string& { return examples[i].text; }, pipeline, threads);
}

std::function<void(TextExample&)> clean_transform(const TextPipeline& pipeline) {
  return [&pipeline](TextExample& ex) {
    std::string cleaned;
    pipeline.clean(ex.text, cleaned);
    ex.text.swap(cleaned);
  };
}

std::vector<int32_t> encode_texts(const std::vector<std::string>& cleaned, const Vocabulary& vocab,
                                  const EncodeOptions& options, const std::vector<int64_t>& rows,
                                  int threads) {
  LOOM_CHECK(options.max_len > 0, "encode_texts: max_len must be > 0, got ", options.max_len);
  const auto n = static_cast<int64_t>(rows.empty() ? cleaned.size() : rows.size());
  for (int64_t r : rows)
    LOOM_CHECK(r >= 0 && r < static_cast<int64_t>(cleaned.size()), "encode_texts: row ", r,
               " out of range [0, ", cleaned.size(), ")");
  std::vector<int32_t> out(static_cast<size_t>(n * options.max_len));
  parallel_chunks(n, threads, [&](int64_t begin, int64_t end, int64_t) {
    std::vector<int32_t> ids;  // reused for every row of the chunk
    for (int64_t k = begin; k < end; ++k) {
      ids.clear();
      vocab.encode(cleaned[static_cast<size_t>(rows.empty() ? k : rows[k])], ids);
      pad_or_truncate(ids, options, out.data() + k * options.max_len);
    }
  });
  return out;
}

std::vector<int32_t> encode_texts(const TokenCorpus& corpus, const Vocabulary& vocab,
                                  const EncodeOptions& options, const std::vector<int64_t>& rows,
                                  int threads) {
  LOOM_CHECK(options.max_len > 0, "encode_texts: max_len must be > 0, got ", options.max_len);
  const auto n = static_cast<int64_t>(rows.empty() ? corpus.rows() : rows.size());
  std::vector<int32_t> out;
  reserve_huge(out, static_cast<size_t>(n * options.max_len));
  out.resize(static_cast<size_t>(n * options.max_len));
  encode_texts(corpus, vocab, options, rows, threads, out.data());
  return out;
}

namespace {

// Both id widths: the ids are computed as int32 and narrowed on the way out.
template <typename Id>
void encode_corpus(const TokenCorpus& corpus, const Vocabulary& vocab, const EncodeOptions& options,
                   const std::vector<int64_t>& rows, int threads, Id* out) {
  LOOM_CHECK(options.max_len > 0, "encode_texts: max_len must be > 0, got ", options.max_len);
  const auto n = static_cast<int64_t>(rows.empty() ? corpus.rows() : rows.size());
  for (int64_t r : rows)
    LOOM_CHECK(r >= 0 && r < corpus.rows(), "encode_texts: row ", r, " out of range [0, ",
               corpus.rows(), ")");
  // Dictionary index -> vocabulary id (-1: dropped), one hash lookup per distinct word.
  std::vector<int32_t> id_of(corpus.words.size());
  parallel_chunks(
      static_cast<int64_t>(id_of.size()), threads, [&](int64_t begin, int64_t end, int64_t) {
        for (int64_t w = begin; w < end; ++w)
          id_of[static_cast<size_t>(w)] = vocab.id(corpus.words[static_cast<size_t>(w)]);
      });
  parallel_chunks(n, threads, [&](int64_t begin, int64_t end, int64_t) {
    std::vector<int32_t> ids;  // reused for every row of the chunk
    std::vector<int32_t> padded(static_cast<size_t>(options.max_len));
    for (int64_t k = begin; k < end; ++k) {
      const int64_t row = rows.empty() ? k : rows[static_cast<size_t>(k)];
      ids.clear();
      for (const int32_t* t = corpus.row_begin(row); t != corpus.row_end(row); ++t) {
        const int32_t id = id_of[static_cast<size_t>(*t)];
        if (id >= 0) ids.push_back(id);
      }
      if constexpr (std::is_same_v<Id, int32_t>) {
        pad_or_truncate(ids, options, out + k * options.max_len);
      } else {
        pad_or_truncate(ids, options, padded.data());
        std::copy(padded.begin(), padded.end(), out + k * options.max_len);
      }
    }
  });
}

}  // namespace

void encode_texts(const TokenCorpus& corpus, const Vocabulary& vocab, const EncodeOptions& options,
                  const std::vector<int64_t>& rows, int threads, int32_t* out) {
  encode_corpus(corpus, vocab, options, rows, threads, out);
}

void encode_texts(const TokenCorpus& corpus, const Vocabulary& vocab, const EncodeOptions& options,
                  const std::vector<int64_t>& rows, int threads, uint16_t* out) {
  LOOM_CHECK(fits_uint16(vocab), "encode_texts: a vocabulary of ", vocab.num_words(),
             " ids does not fit in uint16 (at most 65536)");
  encode_corpus(corpus, vocab, options, rows, threads, out);
}

}  // namespace loom::data
