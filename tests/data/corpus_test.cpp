// tests/data/corpus_test.cpp: the token-id fast path against the string path it replaces.
// StringTable's slot layout (keys sharing long prefixes), TokenCorpus vs TextPipeline::clean
// (HTML, digits, stopwords, non-ASCII, invalid UTF-8), and Vocabulary::fit / encode_texts on a
// corpus vs on cleaned strings, for several thread counts.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "data/encode.h"
#include "data/string_table.h"
#include "data/token_corpus.h"
#include "data/utf8.h"
#include "data/vocab.h"
#include "fixtures.h"

namespace loom::data {
namespace {

using testing::expect_error;

TEST(StringTable, KeysSharingLongPrefixesStayDistinct) {
  // The slot keeps 24 bytes inline: keys that differ only past byte 8, 16 or 24, or only in
  // length (a trailing NUL), must all be told apart, before and after rehashing.
  const std::string base(40, 'q');
  std::vector<std::string> keys = {"", "a", std::string("a\0", 2), std::string(8, 'x'),
                                   std::string(9, 'x')};
  for (size_t len : {7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 40}) {
    keys.push_back(base.substr(0, len));
    std::string last = base.substr(0, len);
    if (len > 0) last.back() = 'r';  // differs in the last byte only
    keys.push_back(last);
  }
  StringTable t;
  for (size_t i = 0; i < keys.size(); ++i) {
    bool inserted = false;
    EXPECT_EQ(t.insert(keys[i], &inserted), static_cast<int32_t>(i)) << i;
    EXPECT_TRUE(inserted) << i;
  }
  for (int i = 0; i < 2000; ++i)  // grows the table several times
    t.insert("filler" + std::to_string(i));
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(t.find(keys[i]), static_cast<int32_t>(i)) << i;
    bool inserted = true;
    EXPECT_EQ(t.insert(keys[i], &inserted), static_cast<int32_t>(i));
    EXPECT_FALSE(inserted);
    EXPECT_EQ(t.key(static_cast<int32_t>(i)), keys[i]);
  }
  EXPECT_EQ(t.find(base.substr(0, 41 - 1) + "z"), -1);
  // probe_padded (masked loads past the key) must agree with probe on every size.
  const std::string padded = std::string(50, 'k') + std::string(32, 'J');
  for (size_t len = 0; len <= 50; ++len) {
    const std::string_view key(padded.data(), len);
    const StringTable::Probe a = StringTable::probe(key), b = StringTable::probe_padded(key);
    EXPECT_EQ(a.hash, b.hash) << len;
    EXPECT_EQ(a.tag, b.tag) << len;
    for (int w = 0; w < 3; ++w)
      EXPECT_EQ(a.bytes[w], b.bytes[w]) << len << " word " << w;
  }
  EXPECT_EQ(t.find("filler1999"), static_cast<int32_t>(keys.size()) + 1999);
}

// Reviews that exercise every cleaning rule, plus random byte soup.
std::vector<std::string> tricky_texts() {
  std::vector<std::string> texts = {
      "The movie was GREAT<br /><br />I loved it, didn't you? 10/10!!",
      "",
      "   <i>no</i> words   here 1234 ",
      "caf\xC3\xA9 na\xC3\xAFve \xE2\x82\xAC uber",
      "bad \xFF byte and \xE9t\xE9 latin-1",  // invalid UTF-8 in the middle of words
      "<unclosed tag and then words",
      "tag <with \xFF invalid> inside",  // invalid bytes inside a tag are stripped with it
      std::string("nul\0separated\0words", 20),
      "the and of a to is it this that was",  // stopwords only
      "Ending with invalid \xE2\x82",
  };
  std::mt19937 gen(5);
  const std::string alphabet("aBz9 <>!\n'\0\x80\xC3\xA9\xE2\xFFthe", 19);
  for (int i = 0; i < 200; ++i) {
    std::string s(static_cast<size_t>(gen() % 120), ' ');
    for (char& c : s)
      c = alphabet[gen() % alphabet.size()];
    texts.push_back(s);
  }
  return texts;
}

TEST(TokenCorpus, RowsAreTheCleanedStringsOnAnyThreadCount) {
  const std::vector<std::string> texts = tricky_texts();
  TextOptions stop;
  stop.remove_stopwords = true;
  for (const TextPipeline& p : {TextPipeline(), TextPipeline(stop)}) {
    const TokenCorpus one = tokenize_texts(texts, p, 1);
    ASSERT_EQ(one.rows(), static_cast<int64_t>(texts.size()));
    for (int64_t r = 0; r < one.rows(); ++r)
      EXPECT_EQ(one.cleaned(r), p.clean(texts[static_cast<size_t>(r)])) << "row " << r;
    // The dictionary is in first-occurrence order: reading the tokens in order, each new index
    // is the next one.
    int32_t next = 0;
    for (int32_t t : one.tokens) {
      ASSERT_LE(t, next);
      if (t == next) ++next;
    }
    EXPECT_EQ(next, static_cast<int32_t>(one.words.size()));
    for (int threads : {2, 3, 7, 0}) {
      const TokenCorpus many = tokenize_texts(texts, p, threads);
      EXPECT_EQ(many.words, one.words) << threads;
      EXPECT_EQ(many.offsets, one.offsets) << threads;
      EXPECT_EQ(many.tokens, one.tokens) << threads;
    }
  }
}

TEST(TokenCorpus, InvalidUtf8GivesTheWordsOfTheSanitizedText) {
  const TextPipeline p;
  for (const std::string& text : tricky_texts()) {
    const TokenCorpus c = tokenize_texts(std::vector<std::string>{text}, p);
    EXPECT_EQ(c.cleaned(0), p.clean(sanitize_utf8(text)));
    EXPECT_TRUE(is_valid_utf8(c.cleaned(0)));
  }
  // A bad byte after enough words that some were looked up before it was met (batches of 64).
  std::string long_text;
  for (int i = 0; i < 100; ++i)
    long_text += i % 3 ? "alpha " : "Beta ";
  long_text += "then \xC3 broken";
  const TokenCorpus c = tokenize_texts(std::vector<std::string>{long_text}, p);
  EXPECT_EQ(c.cleaned(0), p.clean(sanitize_utf8(long_text)));
  EXPECT_EQ(c.row_size(0), 103);  // 100 words, "then", U+FFFD (a character, kept), "broken"
}

TEST(TokenCorpus, AccessorOverloadAndEdgeCases) {
  const std::vector<std::string> texts = {"One two", "two THREE"};
  const TokenCorpus c = tokenize_texts(
      2, [&](int64_t i) { return std::string_view(texts[static_cast<size_t>(i)]); }, TextPipeline(),
      2);
  EXPECT_EQ(c.words, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(c.tokens, (std::vector<int32_t>{0, 1, 1, 2}));
  EXPECT_EQ(c.offsets, (std::vector<int64_t>{0, 2, 4}));

  const TokenCorpus empty = tokenize_texts(std::vector<std::string>{}, TextPipeline(), 4);
  EXPECT_EQ(empty.rows(), 0);
  EXPECT_TRUE(empty.words.empty());
  expect_error([&] { empty.cleaned(0); }, {"TokenCorpus::cleaned", "row 0"});
  expect_error(
      [&] {
        tokenize_texts(
            -1, [](int64_t) { return std::string_view(); }, TextPipeline());
      },
      {"tokenize_texts", "-1"});
}

TEST(TokenCorpus, FiveMegabyteReviewIsTokenizedWhole) {
  std::string big;
  for (int i = 0; i < 500000; ++i)
    big += "Word<br />";
  big += std::string(100, 'z');  // one long word at the end
  const TokenCorpus c = tokenize_texts(std::vector<std::string>{big, "small"}, TextPipeline());
  EXPECT_EQ(c.row_size(0), 500001);
  EXPECT_EQ(c.words, (std::vector<std::string>{"word", std::string(100, 'z'), "small"}));
}

TEST(TokenCorpus, FitAndEncodeMatchTheStringPath) {
  const std::vector<std::string> texts = tricky_texts();
  TextOptions stop;
  stop.remove_stopwords = true;
  const TextPipeline p(stop);
  const std::vector<std::string> cleaned = clean_texts(texts, p);
  const TokenCorpus corpus = tokenize_texts(texts, p, 3);
  // All rows; a shuffled subset (first occurrence follows the order of `rows`); both policies.
  std::vector<int64_t> subset;
  for (int64_t r = static_cast<int64_t>(texts.size()) - 1; r >= 0; r -= 3)
    subset.push_back(r);
  for (const std::vector<int64_t>& rows : {std::vector<int64_t>{}, subset}) {
    for (const VocabOptions& o :
         {VocabOptions{8, OovPolicy::Drop}, VocabOptions{30, OovPolicy::Unk},
          VocabOptions{100000, OovPolicy::Drop}}) {
      for (int threads : {1, 2, 5}) {
        const Vocabulary a = Vocabulary::fit(cleaned, o, rows, threads);
        const Vocabulary b = Vocabulary::fit(corpus, o, rows, threads);
        ASSERT_EQ(b.words(), a.words()) << rows.size() << " rows, " << threads << " threads";
        EXPECT_EQ(b.counts(), a.counts());
        for (const EncodeOptions& e : {EncodeOptions{5, PadSide::Pre, PadSide::Pre},
                                       EncodeOptions{9, PadSide::Post, PadSide::Post}}) {
          EXPECT_EQ(encode_texts(corpus, b, e, rows, threads),
                    encode_texts(cleaned, a, e, rows, threads));
        }
      }
    }
  }
  expect_error([&] { Vocabulary::fit(corpus, {10}, {corpus.rows()}); }, {"row", "out of range"});
  expect_error([&] { encode_texts(corpus, Vocabulary::fit(corpus, {10}), {5}, {-1}); },
               {"encode_texts", "row -1"});
}

}  // namespace
}  // namespace loom::data
