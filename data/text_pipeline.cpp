// data/text_pipeline.cpp: the byte-loop cleaner and tokenizer (see text_pipeline.h).
#include "data/text_pipeline.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include "data/utf8.h"
#include "tensor/error.h"

namespace loom::data {

namespace detail {
extern const char* const kEnglishStopwordsText;  // stopwords_en.cpp, generated at build time
}

namespace {
std::vector<std::string> parse_word_list(std::string_view text) {
  std::vector<std::string> words;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.remove_suffix(1);
    while (!line.empty() && line.front() == ' ')
      line.remove_prefix(1);
    if (!line.empty() && line.front() != '#') words.emplace_back(line);
    start = end + 1;
  }
  return words;
}

bool is_ascii_symbol(int c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
         (c >= 123 && c <= 126);
}
}  // namespace

std::vector<std::string> default_english_stopwords() {
  return parse_word_list(detail::kEnglishStopwordsText);
}

std::vector<std::string> load_stopwords(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  LOOM_CHECK(in.good(), "load_stopwords: cannot open '", path, "'");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_word_list(text);
}

TextPipeline::TextPipeline(TextOptions options, std::vector<std::string> stopwords)
    : options_(options) {
  for (int c = 0; c < 256; ++c) {
    map_[c] = static_cast<unsigned char>(c);
    if (options_.lowercase && c >= 'A' && c <= 'Z') map_[c] = static_cast<unsigned char>(c + 32);
    bool sep = c <= 32 || c == 127;  // whitespace and control bytes, NUL included
    if (options_.remove_digits && c >= '0' && c <= '9') sep = true;
    if (options_.remove_symbols && is_ascii_symbol(c)) sep = true;
    class_[c] = sep ? kSeparator : kKeep;
  }
  if (options_.strip_html) class_[static_cast<unsigned char>('<')] = kTagOpen;
  if (options_.remove_stopwords) {
    if (stopwords.empty()) stopwords = default_english_stopwords();
    for (const std::string& w : stopwords) {
      stopwords_.insert(w);
      max_stopword_len_ = std::max(max_stopword_len_, w.size());
    }
  }
}

void TextPipeline::clean(std::string_view text, std::string& out) const {
  // Invalid UTF-8 is rare: validate first and only copy when a replacement is needed.
  std::string fixed;
  if (!is_valid_utf8(text)) {
    fixed = sanitize_utf8(text);
    text = fixed;
  }
  // The output is never longer than the input plus one separator: write through a raw pointer
  // into a buffer of that size (no per-byte capacity check) and trim at the end. `o` and `word`
  // are plain locals (never captured by reference) so they stay in registers: a char store may
  // alias anything, and a pointer whose address escaped would be reloaded after every byte.
  out.resize(text.size() + 1);
  char* const base = out.data();
  char* o = base;     // next output byte
  char* word = base;  // where the current word begins
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  // Once a '<' has found no '>', no later '<' can either: remembering it keeps a 5 MB review full
  // of '<' linear instead of quadratic.
  bool no_more_gt = false;

  size_t i = 0;
  while (i < n) {
    // The common case: a run of word bytes.
    while (i < n && class_[s[i]] == kKeep)
      *o++ = static_cast<char>(map_[s[i++]]);
    if (i == n) break;
    const unsigned char cls = class_[s[i]];
    if (cls == kTagOpen && !no_more_gt) {
      const void* gt = std::memchr(s + i + 1, '>', n - i - 1);
      if (gt != nullptr) {
        o = end_word(word, o);  // a tag separates words
        word = o;
        i = static_cast<size_t>(static_cast<const unsigned char*>(gt) - s) + 1;
        continue;
      }
      no_more_gt = true;  // an ordinary '<' from here on
    }
    if (cls == kSeparator || options_.remove_symbols) {
      o = end_word(word, o);
      word = o;
    } else {
      *o++ = '<';  // kTagOpen kept as a symbol
    }
    ++i;
  }
  o = end_word(word, o);
  if (o != base && o[-1] == ' ') --o;
  out.resize(static_cast<size_t>(o - base));
}

char* TextPipeline::end_word(char* word, char* o) const {
  if (o == word) return o;  // no word in progress
  const auto len = static_cast<size_t>(o - word);
  if (len <= max_stopword_len_ && stopwords_.find(std::string_view(word, len)) >= 0) return word;
  *o = ' ';
  return o + 1;
}

std::string TextPipeline::clean(std::string_view text) const {
  std::string out;
  clean(text, out);
  return out;
}

std::vector<std::string> TextPipeline::tokenize(std::string_view text) const {
  std::vector<std::string> words;
  const std::string cleaned = clean(text);
  for_each_word(cleaned, [&](std::string_view w) { words.emplace_back(w); });
  return words;
}

}  // namespace loom::data
