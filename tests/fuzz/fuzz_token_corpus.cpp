// tests/fuzz/fuzz_token_corpus.cpp: libFuzzer target for the fast tokenizer (data/token_corpus.h).
// The fast path hashes each word once while it cleans; the text pipeline's clean() is the
// reference. The first byte picks the options (bits 0-4) and the thread count (bits 5-7); the
// rest is split into rows at '\n'. Checked: every row's tokens spell exactly clean(row), and
// cleaning is unchanged by sanitizing the UTF-8 first.
#include <cstdint>
#include <string>
#include <vector>

#include "data/token_corpus.h"
#include "data/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  loom::data::TextOptions o;
  o.strip_html = flags & 1;
  o.remove_digits = flags & 2;
  o.remove_symbols = flags & 4;
  o.lowercase = flags & 8;
  o.remove_stopwords = flags & 16;
  static const loom::data::TextPipeline* pipelines[32] = {};  // one per option set, built once
  const loom::data::TextPipeline*& pipeline = pipelines[flags & 31];
  if (pipeline == nullptr) pipeline = new loom::data::TextPipeline(o);
  const int threads = (flags >> 5) + 1;

  std::vector<std::string> rows;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i)
    if (i == text.size() || text[i] == '\n') {
      rows.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  const loom::data::TokenCorpus corpus = loom::data::tokenize_texts(rows, *pipeline, threads);
  for (size_t r = 0; r < rows.size(); ++r)
    if (corpus.cleaned(static_cast<int64_t>(r)) != pipeline->clean(rows[r])) __builtin_trap();
  if (pipeline->clean(text) != pipeline->clean(loom::data::sanitize_utf8(text))) __builtin_trap();
  return 0;
}
