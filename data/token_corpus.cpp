// data/token_corpus.cpp: parallel tokenization into per-thread dictionaries, then an in-order
// merge (see token_corpus.h).
#include "data/token_corpus.h"

#include <algorithm>
#include <cstring>

#include "data/big_buffer.h"
#include "data/parallel.h"
#include "tensor/error.h"

namespace loom::data {

std::string TokenCorpus::cleaned(int64_t row) const {
  LOOM_CHECK(row >= 0 && row < rows(), "TokenCorpus::cleaned: row ", row, " out of range [0, ",
             rows(), ")");
  std::string out;
  for (const int32_t* t = row_begin(row); t != row_end(row); ++t) {
    if (!out.empty()) out += ' ';
    out += words[static_cast<size_t>(*t)];
  }
  return out;
}

namespace {

// What one thread produces for its chunk of rows.
struct Part {
  StringTable words;            // the pipeline's stopwords first, then this chunk's new words
  std::vector<int32_t> tokens;  // indices into words, minus the number of stopwords
  std::vector<int64_t> ends;    // [chunk rows] tokens.size() after each row
};

template <typename TextOf>
TokenCorpus tokenize_all(int64_t n, TextOf text_of, const TextPipeline& pipeline, int threads) {
  std::vector<Part> parts(static_cast<size_t>(resolve_threads(threads)));
  // The chunks that will run: parallel_chunks uses min(threads, n), at least 1.
  const int64_t used =
      std::max<int64_t>(1, std::min<int64_t>(static_cast<int64_t>(parts.size()), n));
  parallel_chunks(n, threads, [&](int64_t begin, int64_t end, int64_t chunk) {
    Part& part = parts[static_cast<size_t>(chunk)];
    part.words = pipeline.new_word_table();
    part.ends.reserve(static_cast<size_t>(end - begin));
    // A word takes at least 2 bytes with its separator, and IMDB averages 5.6 bytes per token
    // (11 once stopwords are dropped): reserving bytes / 4 ids almost never reallocates, and
    // the part of it that is never touched costs nothing (big_buffer.h).
    size_t bytes = 0;
    for (int64_t i = begin; i < end; ++i)
      bytes += std::string_view(text_of(i)).size();
    reserve_huge(part.tokens, bytes / 4 + 16);
    for (int64_t i = begin; i < end; ++i) {
      pipeline.tokenize_ids(text_of(i), part.words, part.tokens);
      part.ends.push_back(static_cast<int64_t>(part.tokens.size()));
    }
  });

  // Merge the dictionaries in chunk order into chunk 0's, which already numbers chunk 0's words
  // the merged way: the merged dictionary is in first-occurrence order over all rows, and
  // remap[c][i] is the merged index of chunk c's word i (c >= 1). Indices below `stop` are the
  // stopwords, which no token refers to.
  const int32_t stop = pipeline.num_stopwords();
  StringTable merged = std::move(parts[0].words);
  std::vector<std::vector<int32_t>> remap(static_cast<size_t>(used));
  for (int64_t c = 1; c < used; ++c) {
    const Part& part = parts[static_cast<size_t>(c)];
    auto& map = remap[static_cast<size_t>(c)];
    map.reserve(static_cast<size_t>(part.words.size() - stop));
    for (int32_t i = stop; i < part.words.size(); ++i)
      map.push_back(merged.insert(part.words.key(i)) - stop);
  }
  TokenCorpus corpus;
  corpus.words = merged.take_keys();
  corpus.words.erase(corpus.words.begin(), corpus.words.begin() + stop);

  // Row offsets, then every chunk renumbers its tokens into its slice of the result.
  corpus.offsets.reserve(static_cast<size_t>(n) + 1);
  corpus.offsets.push_back(0);
  std::vector<int64_t> base(static_cast<size_t>(used));
  for (int64_t c = 0; c < used; ++c) {
    const Part& part = parts[static_cast<size_t>(c)];
    const int64_t start = corpus.offsets.back();
    base[static_cast<size_t>(c)] = start;
    for (int64_t e : part.ends)
      corpus.offsets.push_back(start + e);
  }
  if (used == 1) {  // one chunk: its numbering is the merged one already, no copy needed
    corpus.tokens = std::move(parts[0].tokens);
    return corpus;
  }
  reserve_huge(corpus.tokens, static_cast<size_t>(corpus.offsets.back()));
  corpus.tokens.resize(static_cast<size_t>(corpus.offsets.back()));
  parallel_chunks(used, threads, [&](int64_t begin, int64_t end, int64_t) {
    for (int64_t c = begin; c < end; ++c) {
      const Part& part = parts[static_cast<size_t>(c)];
      const auto& map = remap[static_cast<size_t>(c)];
      int32_t* out = corpus.tokens.data() + base[static_cast<size_t>(c)];
      if (c == 0) {  // chunk 0's numbering is the merged one
        if (!part.tokens.empty())
          std::memcpy(out, part.tokens.data(), part.tokens.size() * sizeof(int32_t));
        continue;
      }
      for (size_t k = 0; k < part.tokens.size(); ++k)
        out[k] = map[static_cast<size_t>(part.tokens[k])];
    }
  });
  return corpus;
}

}  // namespace

TokenCorpus tokenize_texts(const std::vector<std::string>& texts, const TextPipeline& pipeline,
                           int threads) {
  return tokenize_all(
      static_cast<int64_t>(texts.size()),
      [&](int64_t i) -> const std::string& { return texts[static_cast<size_t>(i)]; }, pipeline,
      threads);
}

TokenCorpus tokenize_texts(const std::vector<TextExample>& examples, const TextPipeline& pipeline,
                           int threads) {
  return tokenize_all(
      static_cast<int64_t>(examples.size()),
      [&](int64_t i) -> const std::string& { return examples[static_cast<size_t>(i)].text; },
      pipeline, threads);
}

TokenCorpus tokenize_texts(int64_t n, const std::function<std::string_view(int64_t)>& text_of,
                           const TextPipeline& pipeline, int threads) {
  LOOM_CHECK(n >= 0, "tokenize_texts: negative row count ", n);
  return tokenize_all(n, text_of, pipeline, threads);
}

}  // namespace loom::data
