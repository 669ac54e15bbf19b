// data/text_pipeline.cpp: the byte-loop cleaner and tokenizer (see text_pipeline.h).
#include "data/text_pipeline.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
    class_[c] = c >= 0x80 ? kNonAscii : sep ? kSeparator : kKeep;
  }
  if (options_.strip_html) class_[static_cast<unsigned char>('<')] = kTagOpen;
  letters_only_ = true;  // the word bytes are exactly A-Z and a-z (the default options)
  for (int c = 0; c < 128; ++c) {
    const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if ((class_[c] == kKeep) != letter) letters_only_ = false;
  }
  if (options_.remove_stopwords) {
    if (stopwords.empty()) stopwords = default_english_stopwords();
    for (const std::string& w : stopwords) {
      stopwords_.insert(w);
      max_stopword_len_ = std::max(max_stopword_len_, w.size());
    }
  }
}

// The byte loop shared by clean() and tokenize_ids(). Writes the bytes of each word (mapped,
// e.g. lowercased) from `base` on and calls `o = on_word(word, o)` when the word [word, o) ends;
// on_word returns where the next word starts. Returns the final write position, or nullptr as
// soon as it meets invalid UTF-8 (rare: the caller then sanitizes the text and scans again).
// Multi-byte characters are checked as they are met and copied whole, and the loop only splits
// at ASCII bytes, so the output is valid UTF-8. `base` must have room for text.size() + 1 bytes.
// `o` and `word` are plain locals (never captured by reference) so they stay in registers: a
// char store may alias anything, and a pointer whose address escaped would be reloaded after
// every byte.
template <typename OnWord>
char* TextPipeline::scan(std::string_view text, char* base, OnWord on_word) const {
  char* o = base;     // next output byte
  char* word = base;  // where the current word begins
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  // Once a '<' has found no '>', no later '<' can either: remembering it keeps a 5 MB review full
  // of '<' linear instead of quadratic.
  bool no_more_gt = false;

  size_t i = 0;
  while (i < n) {
    // The common case: a run of ASCII word bytes. With the default options the word bytes are
    // the letters, and 16 bytes are classified and lowercased at once (SSE2, every x86-64 CPU).
    // It writes all 16 but only keeps the run of letters; the scalar loop below then sees the
    // byte that ended the run. Room for the store: o - base <= i always (no step writes more
    // bytes than it reads), so o + 16 <= base + i + 16 <= base + n.
#if defined(__SSE2__)
    if (letters_only_) {
      const __m128i to_lower = _mm_set1_epi8(0x20);
      const __m128i a = _mm_set1_epi8('a');
      const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80));  // unsigned compare via signed
      const __m128i limit = _mm_set1_epi8(static_cast<char>(26 ^ 0x80));
      while (i + 16 <= n) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
        const __m128i folded = _mm_or_si128(bytes, to_lower);  // 'A'..'Z' -> 'a'..'z'
        // A letter is a byte whose folded value minus 'a' is below 26 (as an unsigned byte).
        const __m128i rel = _mm_xor_si128(_mm_sub_epi8(folded, a), bias);
        const auto letters = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmplt_epi8(rel, limit)));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(o), options_.lowercase ? folded : bytes);
        const auto run = static_cast<size_t>(__builtin_ctz(~letters));  // <= 16: bit 16 is set
        o += run;
        i += run;
        if (run < 16) break;
      }
    }
#endif
    while (i < n && class_[s[i]] == kKeep)
      *o++ = static_cast<char>(map_[s[i++]]);
    if (i == n) break;
    const unsigned char cls = class_[s[i]];
    if (cls == kNonAscii) {  // part of the word, if it is a valid character
      size_t bad = 0;
      const size_t len = utf8_sequence_length(text, i, &bad);
      if (len == 0) return nullptr;
      for (size_t k = 0; k < len; ++k)
        *o++ = static_cast<char>(s[i + k]);
      i += len;
      continue;
    }
    if (cls == kTagOpen && !no_more_gt) {
      const void* gt = std::memchr(s + i + 1, '>', n - i - 1);
      if (gt != nullptr) {
        if (o != word) o = on_word(word, o);  // a tag separates words
        word = o;
        i = static_cast<size_t>(static_cast<const unsigned char*>(gt) - s) + 1;
        continue;
      }
      no_more_gt = true;  // an ordinary '<' from here on
    }
    if (cls == kSeparator || options_.remove_symbols) {
      if (o != word) o = on_word(word, o);
      word = o;
    } else {
      *o++ = '<';  // kTagOpen kept as a symbol
    }
    ++i;
  }
  if (o != word) o = on_word(word, o);
  return o;
}

void TextPipeline::clean(std::string_view text, std::string& out) const {
  // The output is never longer than the input plus one separator: write through a raw pointer
  // into a buffer of that size (no per-byte capacity check) and trim at the end.
  auto keep_or_drop = [this](char* word, char* end) { return end_word(word, end); };
  out.resize(text.size() + 1);
  char* o = scan(text, out.data(), keep_or_drop);
  if (o == nullptr) {  // invalid UTF-8: clean the sanitized text instead
    const std::string fixed = sanitize_utf8(text);
    out.resize(fixed.size() + 1);
    o = scan(fixed, out.data(), keep_or_drop);
  }
  char* const base = out.data();
  if (o != base && o[-1] == ' ') --o;
  out.resize(static_cast<size_t>(o - base));
}

StringTable TextPipeline::new_word_table() const {
  StringTable words;
  for (const std::string& w : stopwords_.keys())
    words.insert(w);
  return words;
}

namespace {
// Looks up (inserting the new ones) batch[0, n) in order and appends the index minus `first` of
// each word that is not a stopword. The words lie in a buffer with 24 bytes of slack after each
// (probe_padded). The table is bigger than the L2 cache, so a lookup mostly waits for memory:
// each word's slot is prefetched kAhead words before its turn, which keeps several cache misses
// in flight at once.
void lookup_batch(const std::string_view* batch, size_t n, StringTable& words, int32_t first,
                  std::vector<int32_t>& ids) {
  constexpr size_t kAhead = 8;  // a power of two: probes[] is a ring
  StringTable::Probe probes[kAhead];
  for (size_t k = 0; k < std::min(n, kAhead); ++k) {
    probes[k] = StringTable::probe_padded(batch[k]);
    words.prefetch(probes[k]);
  }
  for (size_t k = 0; k < n; ++k) {
    const int32_t i = words.insert(batch[k], probes[k % kAhead]);
    if (i >= first) ids.push_back(i - first);
    if (k + kAhead < n) {
      probes[k % kAhead] = StringTable::probe_padded(batch[k + kAhead]);
      words.prefetch(probes[k % kAhead]);
    }
  }
}
}  // namespace

void TextPipeline::tokenize_ids(std::string_view text, StringTable& words,
                                std::vector<int32_t>& ids) const {
  // The byte loop writes words one after the other into a per-thread scratch buffer (it only
  // grows: one allocation per thread, not one per call) and collects them in batches of
  // kBatch; a full batch is looked up and the buffer rewound.
  constexpr size_t kBatch = 64;
  thread_local std::string scratch;
  std::string_view batch[kBatch];
  size_t count = 0;
  const int32_t first = stopwords_.size();  // words[0, first) are the stopwords
  char* base = nullptr;
  auto on_word = [&](char* word, char* end) {
    batch[count++] = std::string_view(word, static_cast<size_t>(end - word));
    if (count < kBatch) return end;
    lookup_batch(batch, count, words, first, ids);
    count = 0;
    return base;
  };
  auto run = [&](std::string_view t) {
    // + 1 for scan(), + 24 readable bytes after any word for probe_padded.
    if (scratch.size() < t.size() + 32) scratch.resize(t.size() + 32);
    base = scratch.data();
    return scan(t, base, on_word) != nullptr;
  };
  const size_t start = ids.size();
  if (!run(text)) {
    // Invalid UTF-8: start again on the sanitized text. The sanitized text is the same up to
    // the bad byte, so the words already looked up come out again, in the same order: they are
    // in `words` already and keep their indices; only their ids are dropped and re-appended.
    ids.resize(start);
    count = 0;
    run(sanitize_utf8(text));
  }
  lookup_batch(batch, count, words, first, ids);
}

char* TextPipeline::end_word(char* word, char* o) const {
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
