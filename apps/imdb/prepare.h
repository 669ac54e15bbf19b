// apps/imdb/prepare.h: from a dataset path to encoded rows, a split and a vocabulary.
//
// The same steps as the original study, in loom's data/ library:
//   read (data/readers.h) -> clean (TextPipeline: strip HTML, digits, punctuation; lowercase)
//   -> split (random80: seeded permutation, last 20% = validation; official: aclImdb's halves,
//      the test half validating; official-val: aclImdb's training half split again, a seeded
//      --val-fraction of it validating, so the test half is never seen until `eval --on test`)
//   -> vocabulary of the `vocab` most frequent words, fitted on the training rows only
//   -> encode every review to `max_len` ids, padded and truncated at the front (Keras' default).
// --train-limit keeps only the first N rows of the training split (after the vocabulary is
// fitted on the whole training split, so a limited run uses the same ids as a full one);
// --val-limit keeps the first N validation rows.
// With a vocabulary given (eval, predict: the checkpoint's), nothing is fitted.
// --test FILE: the dataset's own test split (Amazon's test.ft.txt.bz2): its rows follow --data's,
// marked Split::Test, so --split official validates on it; fastText files are streamed.
// Left out: caching the encoded data between runs (reading + cleaning 50k reviews takes seconds).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "apps/imdb/config.h"
#include "data/encode.h"
#include "data/example.h"
#include "data/split.h"
#include "data/text_pipeline.h"
#include "data/vocab.h"

namespace loom::imdb {

struct PreparedData {
  std::string source;       // the path read
  std::string test_source;  // the --test file read after it ("" when none)
  int64_t rows = 0;         // reviews in the dataset
  int64_t max_len = 0;
  std::vector<int32_t> tokens;  // [rows, max_len] ids, row-major
  std::vector<float> labels;    // [rows] 1 positive, 0 negative
  std::vector<data::Split>
      official;              // [rows] aclImdb's own split of each row (Unspecified elsewhere)
  data::SplitIndices split;  // train (possibly limited) and validation rows
  data::Vocabulary vocab;
  double read_seconds = 0;    // reading + cleaning
  double encode_seconds = 0;  // vocabulary + encoding
  double peak_rss_mb = 0;     // the process's peak resident memory once the data is ready
};

// Reads and encodes `path` as `config` says. `vocab`: use this vocabulary instead of fitting one.
// Throws loom::Error naming the path for missing/empty data, and naming the flag when the
// split cannot be made (e.g. --split official on a CSV).
PreparedData prepare_data(const Config& config, const std::string& path,
                          const data::Vocabulary* vocab = nullptr);

// How `config` encodes a review: max_len ids, padded and truncated at the front (--padding pre,
// Keras' default) or at the end (post); with --oov unk-last unknown words become <unk>.
data::EncodeOptions encode_options(const Config& config);
data::VocabOptions vocab_options(const Config& config);
// --oov unk-last: the vocabulary keeps <unk> at id 1 (data/vocab.h); this moves it to the last id,
// num_words - 1, and every word one id down, so the ids read as Seq2CNN's: 0 padding, 1 ..
// num_words - 2 the words (most frequent first), num_words - 1 unknown. Applied after encoding
// by every command (train, eval, predict), so a saved vocabulary stays an ordinary one.
void move_unknown_last(std::vector<int32_t>& tokens, int32_t num_words);

// The text cleaner of `config` (--stopwords): train, eval and predict must agree, so eval and
// predict pass the checkpoint's config.
const data::TextPipeline& text_pipeline(const Config& config);

// "50000 reviews (25000 positive), train 40000, validation 10000, vocabulary 500" for logs.
std::string describe(const PreparedData& d);

// Rows rows[first, first + n) of `d`, for a batch: their ids into `tokens` ([n, max_len]
// row-major, resized) and, unless `labels` is null, their labels (resized to n).
void gather_rows(const PreparedData& d, const std::vector<int64_t>& rows, size_t first, size_t n,
                 std::vector<int32_t>& tokens, std::vector<float>* labels);

}  // namespace loom::imdb
