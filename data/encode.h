// data/encode.h: cleaned texts -> fixed-length id rows, and the multi-threaded bulk helpers.
//
// pad_or_truncate follows Keras' pad_sequences: 'pre' truncation keeps the *last* max_len ids,
// 'post' keeps the first; 'pre' padding puts the zeros (Vocabulary::kPad) in front, 'post' after.
// Keras' default is 'pre' for both, and so is ours. A text with no known words becomes a row of
// padding. The bulk helpers split the rows into contiguous chunks, one std::thread each
// (parallel.h), and give the same bytes for any thread count.
// Left out: bucketing by length, dynamic (per-batch) padding.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/example.h"
#include "data/text_pipeline.h"
#include "data/token_corpus.h"
#include "data/vocab.h"

namespace loom::data {

enum class PadSide { Pre, Post };

struct EncodeOptions {
  int64_t max_len = 100;  // > 0
  PadSide padding = PadSide::Pre;
  PadSide truncating = PadSide::Pre;
};

// Writes exactly options.max_len ids to out[0, max_len). Throws when max_len <= 0.
void pad_or_truncate(const std::vector<int32_t>& ids, const EncodeOptions& options, int32_t* out);

// Cleaned form of every text (TextPipeline::clean), in order. threads <= 0: all cores.
std::vector<std::string> clean_texts(const std::vector<std::string>& texts,
                                     const TextPipeline& pipeline, int threads = 1);
std::vector<std::string> clean_texts(const std::vector<TextExample>& examples,
                                     const TextPipeline& pipeline, int threads = 1);

// A transform for ImdbReadOptions::transform: replaces ex.text by pipeline.clean(ex.text), so
// read_aclimdb cleans each review on its threads right after copying it (while it is still in
// the cache). `pipeline` must outlive the read.
std::function<void(TextExample&)> clean_transform(const TextPipeline& pipeline);

// Encodes cleaned[rows[k]] (every row when `rows` is empty) into row k of the result:
// shape [rows, max_len], row-major.
std::vector<int32_t> encode_texts(const std::vector<std::string>& cleaned, const Vocabulary& vocab,
                                  const EncodeOptions& options,
                                  const std::vector<int64_t>& rows = {}, int threads = 1);
// The same for the rows of a tokenized corpus (token_corpus.h): each dictionary word is looked up
// in the vocabulary once, then every token is an array lookup. Same result as encoding the
// corpus's cleaned strings.
std::vector<int32_t> encode_texts(const TokenCorpus& corpus, const Vocabulary& vocab,
                                  const EncodeOptions& options,
                                  const std::vector<int64_t>& rows = {}, int threads = 1);
// The same written to out[0, rows * max_len), e.g. one part of a larger buffer, so two corpora
// (a training file and a test file) can be encoded one after the other into one allocation.
void encode_texts(const TokenCorpus& corpus, const Vocabulary& vocab, const EncodeOptions& options,
                  const std::vector<int64_t>& rows, int threads, int32_t* out);
// The same in 2 bytes an id, for a vocabulary below 65,536 ids (checked): 3.6M Amazon reviews of
// 100 ids take 720 MB instead of 1.44 GB. fits_uint16 says whether a vocabulary qualifies.
inline bool fits_uint16(const Vocabulary& vocab) {
  return vocab.num_words() <= 65536;
}
void encode_texts(const TokenCorpus& corpus, const Vocabulary& vocab, const EncodeOptions& options,
                  const std::vector<int64_t>& rows, int threads, uint16_t* out);

}  // namespace loom::data
