// data/token_corpus.h: many texts as integer tokens over one shared dictionary.
//
// The string path (TextPipeline::clean, then Vocabulary::fit and encode_texts on the cleaned
// strings) hashes every token up to three times: the stopword check while cleaning, counting
// while fitting, the lookup while encoding. A TokenCorpus hashes each token once, while it is
// cleaned: the word is interned in a dictionary and the text becomes a list of dictionary
// indices. Fitting the vocabulary is then counting integers, and encoding is an array lookup per
// token (vocab.h and encode.h take a TokenCorpus as well as strings). The results are the same
// as the string path's, to the byte.
//
// Threads: each thread tokenizes a contiguous chunk of rows into its own dictionary; the
// dictionaries are then merged in chunk order and the chunk's tokens renumbered, so `words` is in
// first-occurrence order over all rows and the corpus is identical for any thread count.
// Left out: streaming (the whole corpus is in memory: 4 bytes per kept token, ~25 MB for IMDB),
// n-grams.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "data/example.h"
#include "data/text_pipeline.h"

namespace loom::data {

struct TokenCorpus {
  std::vector<std::string> words;  // [num_words] distinct kept words, first-occurrence order
  std::vector<int64_t> offsets;    // [rows + 1] row r is tokens[offsets[r], offsets[r + 1])
  std::vector<int32_t> tokens;     // [offsets.back()] indices into `words`

  int64_t rows() const { return offsets.empty() ? 0 : static_cast<int64_t>(offsets.size()) - 1; }
  int64_t row_size(int64_t row) const { return offsets[row + 1] - offsets[row]; }
  // Row `row`'s tokens as a pointer range [begin, end).
  const int32_t* row_begin(int64_t row) const { return tokens.data() + offsets[row]; }
  const int32_t* row_end(int64_t row) const { return tokens.data() + offsets[row + 1]; }

  // The cleaned form of a row (what TextPipeline::clean returns): its words joined by single
  // spaces. For tests and debugging; throws loom::Error for a row out of range.
  std::string cleaned(int64_t row) const;
};

// Cleans and tokenizes every text with `pipeline` (stopwords dropped when its options say so).
// threads <= 0: all cores. The result does not depend on `threads`.
TokenCorpus tokenize_texts(const std::vector<std::string>& texts, const TextPipeline& pipeline,
                           int threads = 1);
TokenCorpus tokenize_texts(const std::vector<TextExample>& examples, const TextPipeline& pipeline,
                           int threads = 1);
// Row i is text_of(i), for i in [0, n): any bytes (invalid UTF-8 is replaced as TextPipeline
// does). For texts that are not in a vector of strings, e.g. ImdbArchive::text (imdb_reader.h).
// text_of is called from `threads` threads at once.
TokenCorpus tokenize_texts(int64_t n, const std::function<std::string_view(int64_t)>& text_of,
                           const TextPipeline& pipeline, int threads = 1);

}  // namespace loom::data
