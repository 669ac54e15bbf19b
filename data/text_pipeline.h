// data/text_pipeline.h: raw review bytes -> clean, lowercase, space-separated tokens.
//
// One pass over the bytes, no regex, the output buffer reused between calls. In order:
//   0. invalid UTF-8 becomes U+FFFD (utf8.h); the steps below split only at ASCII bytes, so a
//      multi-byte character is never cut;
//   1. strip_html: every "<...>" (up to the first '>') becomes a space; a lone '<' is a symbol;
//   2. remove_digits: 0-9 become spaces;
//   3. remove_symbols: ASCII punctuation becomes a space, so "don't" gives "don" "t" (as Keras);
//   4. lowercase: A-Z -> a-z (ASCII only; non-ASCII characters are kept as they are);
//   5. tokenize: split on spaces; ASCII whitespace and control bytes (NUL too) always separate;
//   6. remove_stopwords: drop tokens in the stopword list (default: data/stopwords_en.txt).
// The result, the *cleaned form*, is the tokens joined by single spaces; everything downstream
// reads that form. With the default options, runs of letters are classified and lowercased 16
// bytes at a time with SSE2; the byte loop is the reference (docs/labs/05-data.md, section 1).
// Left out: Unicode case folding, stemming, n-grams, non-ASCII punctuation (kept inside tokens).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/string_table.h"

namespace loom::data {

struct TextOptions {
  bool strip_html = true;
  bool remove_digits = true;
  bool remove_symbols = true;
  bool lowercase = true;
  bool remove_stopwords = false;
};

// The built-in English list (data/stopwords_en.txt, compiled in).
std::vector<std::string> default_english_stopwords();

// Reads a stopword file: one word per line, '#' comment lines and blank lines ignored.
// Throws loom::Error naming the file when it cannot be read.
std::vector<std::string> load_stopwords(const std::string& path);

class TextPipeline {
 public:
  // `stopwords` is only used when options.remove_stopwords; empty means the built-in list.
  explicit TextPipeline(TextOptions options = {}, std::vector<std::string> stopwords = {});

  // Writes the cleaned form of `text` (any bytes) into `out`, replacing its content and reusing
  // its capacity. Thread-safe: a const TextPipeline can be shared by worker threads.
  void clean(std::string_view text, std::string& out) const;
  std::string clean(std::string_view text) const;

  // Convenience for tests and small inputs: the cleaned form split into words.
  std::vector<std::string> tokenize(std::string_view text) const;

  // The fast path to integer tokens (token_corpus.h uses it): cleans `text` like clean() and
  // appends to `ids` the index of each kept word in `words`, minus num_stopwords(), inserting
  // words seen for the first time. Each token is hashed once, and no cleaned string is built.
  // `words` must start as new_word_table(): its first num_stopwords() entries are the
  // stopwords (none unless options.remove_stopwords), so one lookup both finds a word and tells
  // whether to drop it. Thread-safe for distinct `words` tables. Each thread keeps a scratch
  // buffer as large as the longest text it tokenized (reused, freed when the thread ends).
  StringTable new_word_table() const;
  int32_t num_stopwords() const { return stopwords_.size(); }
  void tokenize_ids(std::string_view text, StringTable& words, std::vector<int32_t>& ids) const;

  const TextOptions& options() const { return options_; }

 private:
  // kTagOpen is '<' when strip_html: the start of a tag, or else an ordinary symbol.
  // kNonAscii (0x80..0xFF) starts or continues a multi-byte character, checked and kept whole.
  enum ByteClass : unsigned char { kKeep = 0, kSeparator = 1, kTagOpen = 2, kNonAscii = 3 };
  // The byte loop behind clean() and tokenize_ids() (text_pipeline.cpp).
  template <typename OnWord>
  char* scan(std::string_view text, char* base, OnWord on_word) const;
  // clean()'s end of a non-empty word [word, o): drops it if it is a stopword (returns `word`),
  // else appends a space (returns o + 1). The next word starts at the returned pointer.
  char* end_word(char* word, char* o) const;

  TextOptions options_;
  unsigned char map_[256];    // byte -> byte after lowercasing
  unsigned char class_[256];  // byte -> ByteClass under options_
  StringTable stopwords_;
  size_t max_stopword_len_ = 0;  // longer words skip the stopword lookup (0: no stopwords)
  bool letters_only_ = false;    // word bytes are exactly ASCII letters: scan's SIMD fast path
};

// Calls f(std::string_view word) for each word of a cleaned form (split on ' ').
template <typename F>
void for_each_word(std::string_view cleaned, F&& f) {
  // A plain byte loop: words average ~5 bytes, too short for memchr's call to pay off.
  // BEGIN LAB 05 TASK 1 uses(cleaned, f)
  const char* p = cleaned.data();
  const char* const end = p + cleaned.size();
  while (p < end) {
    const char* w = p;
    while (p < end && *p != ' ')
      ++p;
    if (p > w) f(std::string_view(w, static_cast<size_t>(p - w)));
    ++p;
  }
  // END LAB 05 TASK 1
}

}  // namespace loom::data
