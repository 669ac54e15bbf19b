// data/vocab.h: the word -> id table, fitted on training texts, saved beside a checkpoint.
//
// Ids live in [0, num_words), so an Embedding(num_words, dim) covers every id (Keras' Tokenizer
// num_words has the same meaning):
//   0                      padding (never a word)
//   1                      <unk>, only with OovPolicy::Unk
//   first_word_id() ...    the most frequent words, most frequent first
// Ties in frequency are broken by first occurrence in the fitting texts (in the order given),
// which is what Keras' Tokenizer does (an insertion-ordered dict and a stable sort). Fit on the
// training rows only, then save(); predict loads the same file.
// The input is the cleaned form (text_pipeline.h): words separated by single spaces.
// File format (JSON): {"format":"loom-vocab","version":1,"num_words":500,"oov":"drop",
//                      "words":["the",...],"counts":[336148,...]}  (words in id order)
// Left out: min-count thresholds, subword units.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/string_table.h"
#include "data/token_corpus.h"

namespace loom::data {

enum class OovPolicy { Drop, Unk };

struct VocabOptions {
  int32_t num_words = 500;          // id capacity, padding (and <unk>) included; >= 2 (3 with Unk)
  OovPolicy oov = OovPolicy::Drop;  // Drop: OOV words vanish (Keras default); Unk: they map to 1
};

class Vocabulary {
 public:
  static constexpr int32_t kPad = 0;
  static constexpr int32_t kUnk = 1;

  Vocabulary() = default;

  // Counts the words of cleaned[rows[0]], cleaned[rows[1]], ... (all rows, in order, when `rows`
  // is empty) and keeps the most frequent. threads > 1 counts chunks in parallel and merges them in
  // order: the result is identical to threads = 1.
  static Vocabulary fit(const std::vector<std::string>& cleaned, const VocabOptions& options,
                        const std::vector<int64_t>& rows = {}, int threads = 1);
  // The same on a tokenized corpus (token_corpus.h): the same vocabulary as fitting on the
  // corpus's cleaned strings, without hashing a single token.
  static Vocabulary fit(const TokenCorpus& corpus, const VocabOptions& options,
                        const std::vector<int64_t>& rows = {}, int threads = 1);

  // Id of `word`: its id, or kUnk (Unk policy), or -1 (Drop policy) when out of vocabulary.
  int32_t id(std::string_view word) const {
    const int32_t i = table_.find(word);
    if (i >= 0) return i + first_word_id();
    return options_.oov == OovPolicy::Unk ? kUnk : -1;
  }
  // The word for an id; "<pad>" for 0, "<unk>" for 1 under Unk. Throws for ids out of range.
  std::string word(int32_t id) const;

  // Appends the ids of the words of `cleaned` to `ids` (OOV words dropped or <unk>).
  void encode(std::string_view cleaned, std::vector<int32_t>& ids) const;

  int32_t num_words() const { return options_.num_words; }
  int32_t first_word_id() const { return options_.oov == OovPolicy::Unk ? 2 : 1; }
  int32_t num_known_words() const { return table_.size(); }  // <= num_words - first_word_id
  OovPolicy oov() const { return options_.oov; }
  const std::vector<std::string>& words() const { return table_.keys(); }  // in id order
  const std::vector<int64_t>& counts() const { return counts_; }  // fitting counts, id order

  // JSON file (format above). load() validates everything and names the file in its errors
  // (JSON syntax errors also give the line and column).
  void save(const std::string& path) const;
  static Vocabulary load(const std::string& path);

  // Builds a vocabulary from an explicit word list (id order); used by load() and tests.
  static Vocabulary from_words(const std::vector<std::string>& words, const VocabOptions& options,
                               std::vector<int64_t> counts = {});

 private:
  // The vocabulary of the most frequent keys; keys[i] (first-occurrence order) has counts[i].
  static Vocabulary top_words(const std::vector<std::string_view>& keys,
                              const std::vector<int64_t>& counts, const VocabOptions& options);

  VocabOptions options_;
  StringTable table_;            // word -> index; id = index + first_word_id()
  std::vector<int64_t> counts_;  // [num_known_words]
};

}  // namespace loom::data
