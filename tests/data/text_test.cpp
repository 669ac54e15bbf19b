// tests/data/text_test.cpp: UTF-8 sanitizing and the text pipeline (cleaning, tokenizing,
// stopwords), including the bad-input cases: NUL bytes, invalid UTF-8, empty and 5 MB reviews.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "data/text_pipeline.h"
#include "data/utf8.h"

namespace loom::data {
namespace {

const std::string kFFFD = "\xEF\xBF\xBD";

TEST(Utf8, ValidTextIsUnchanged) {
  const std::string s =
      "plain ascii, caf\xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x98\x80 and a NUL" + std::string(1, '\0');
  EXPECT_TRUE(is_valid_utf8(s));
  EXPECT_EQ(sanitize_utf8(s), s);
}

TEST(Utf8, InvalidSequencesBecomeOneReplacementPerMaximalSubpart) {
  // The same answers as Python's bytes.decode("utf-8", errors="replace").
  EXPECT_EQ(sanitize_utf8("a\x80"
                          "b"),
            "a" + kFFFD + "b");                 // lone continuation
  EXPECT_EQ(sanitize_utf8("\xE2\x82"), kFFFD);  // truncated 3-byte
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98"
                          "a"),
            kFFFD + "a");                                                       // truncated 4-byte
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), kFFFD + kFFFD);                          // overlong
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), kFFFD + kFFFD + kFFFD);              // surrogate
  EXPECT_EQ(sanitize_utf8("\xF4\x90\x80\x80"), kFFFD + kFFFD + kFFFD + kFFFD);  // > U+10FFFF
  EXPECT_EQ(sanitize_utf8("\xFF"
                          "caf\xE9"),
            kFFFD + "caf" + kFFFD);  // Latin-1
  EXPECT_FALSE(is_valid_utf8("\xE9"));
}

TEST(Utf8, RandomBytesAlwaysGiveValidUtf8) {
  std::mt19937 gen(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string s(static_cast<size_t>(gen() % 64), '\0');
    for (char& c : s)
      c = static_cast<char>(gen() & 0xFF);
    EXPECT_TRUE(is_valid_utf8(sanitize_utf8(s)));
  }
}

TEST(TextPipeline, DefaultCleaningMatchesKerasStyleFilters) {
  TextPipeline p;
  EXPECT_EQ(p.clean("<br />Hello, World!<br /><br />It's 10/10 -- GREAT."),
            "hello world it s great");
  EXPECT_EQ(p.clean("a<b>c"), "a c");                  // a tag separates words
  EXPECT_EQ(p.clean("x <i\nclass='q'>y</i>"), "x y");  // tags may span lines
  EXPECT_EQ(p.clean(""), "");
  EXPECT_EQ(p.clean("  \t\n !!! 42 "), "");
}

TEST(TextPipeline, UnclosedTagIsAnOrdinarySymbol) {
  EXPECT_EQ(TextPipeline().clean("5 < 6 and a<b"), "and a b");
  TextOptions keep_symbols;
  keep_symbols.remove_symbols = false;
  EXPECT_EQ(TextPipeline(keep_symbols).clean("if a < b"), "if a < b");
  EXPECT_EQ(TextPipeline(keep_symbols).clean("a <b> c"), "a c");
}

TEST(TextPipeline, EachStepCanBeTurnedOff) {
  TextOptions o;
  o.strip_html = false;
  o.remove_symbols = false;
  EXPECT_EQ(TextPipeline(o).clean("<br/>Hi!"), "<br/>hi!");
  o = TextOptions();
  o.remove_digits = false;
  EXPECT_EQ(TextPipeline(o).clean("Top 10 of 2020"), "top 10 of 2020");
  o = TextOptions();
  o.lowercase = false;
  EXPECT_EQ(TextPipeline(o).clean("Hello World"), "Hello World");
}

TEST(TextPipeline, NonAsciiCharactersStayWholeAndLowercaseIsAsciiOnly) {
  TextPipeline p;
  EXPECT_EQ(p.clean("CAF\xC3\x89 na\xC3\xAFve \xE2\x80\x94 ok"),
            "caf\xC3\x89 na\xC3\xAFve \xE2\x80\x94 ok");
}

TEST(TextPipeline, NulBytesAndControlBytesSeparateWords) {
  const std::string s("good\0movie\x01great", 16);
  EXPECT_EQ(TextPipeline().clean(s), "good movie great");
  TextOptions o;
  o.remove_symbols = false;
  o.remove_digits = false;
  EXPECT_EQ(TextPipeline(o).clean(s), "good movie great");
}

TEST(TextPipeline, InvalidUtf8IsReplacedNotCut) {
  const std::string out = TextPipeline().clean("bad\xE2\x82 byte \xC3");
  EXPECT_EQ(out, "bad" + kFFFD + " byte " + kFFFD);
  EXPECT_TRUE(is_valid_utf8(out));
}

TEST(TextPipeline, StopwordsUseTheBuiltInOrAGivenList) {
  TextOptions o;
  o.remove_stopwords = true;
  EXPECT_EQ(TextPipeline(o).clean("The movie is NOT what I'd call good"), "movie call good");
  EXPECT_EQ(TextPipeline(o, {"movie"}).clean("The movie is good"), "the is good");
  const auto words = default_english_stopwords();
  EXPECT_GT(words.size(), 100u);
  EXPECT_EQ(words.front(), "a");                              // comment lines are skipped
  EXPECT_EQ(TextPipeline().clean("The movie"), "the movie");  // off by default
}

TEST(TextPipeline, TokenizeSplitsTheCleanedForm) {
  const std::vector<std::string> expected = {"one", "two", "three"};
  EXPECT_EQ(TextPipeline().tokenize("One, two... THREE!"), expected);
}

TEST(TextPipeline, OutputIsCanonicalOnRandomInput) {
  // Valid UTF-8, single spaces, no edge spaces, and cleaning twice changes nothing.
  std::mt19937 gen(11);
  const std::string alphabet("aZ9 <>!\n\t'\0\x80\xC3\xA9\xE2", 15);
  TextOptions stop;
  stop.remove_stopwords = true;
  for (const TextPipeline& p : {TextPipeline(), TextPipeline(stop)}) {
    for (int trial = 0; trial < 300; ++trial) {
      std::string s(static_cast<size_t>(gen() % 80), ' ');
      for (char& c : s)
        c = alphabet[gen() % alphabet.size()];
      const std::string once = p.clean(s);
      EXPECT_TRUE(is_valid_utf8(once));
      EXPECT_EQ(once.find("  "), std::string::npos);
      if (!once.empty()) {
        EXPECT_NE(once.front(), ' ');
        EXPECT_NE(once.back(), ' ');
      }
      EXPECT_EQ(p.clean(once), once);
    }
  }
}

TEST(TextPipeline, VectorizedScanMatchesTheByteLoop) {
  // Default options take the 16-bytes-at-a-time path (word bytes = letters); keeping digits
  // turns it off. On text without digits both must give the same bytes. Long words and runs
  // straddle the 16-byte blocks; the text ends at every offset modulo 16.
  TextOptions keep_digits;
  keep_digits.remove_digits = false;
  TextOptions upper = keep_digits;
  upper.lowercase = false;
  TextOptions upper_fast;
  upper_fast.lowercase = false;
  const TextPipeline fast, slow(keep_digits), fast_upper(upper_fast), slow_upper(upper);
  std::mt19937 gen(3);
  const std::vector<std::string> pieces = {
      "a", "Word", "LONGERWORDTHANSIXTEENBYTES", " ", ", ", "<br />", "\xC3\xA9", "\xFF", "@", "\n",
      "<", "zZ"};
  for (int trial = 0; trial < 400; ++trial) {
    std::string s;
    const int n = static_cast<int>(gen() % 40);
    for (int k = 0; k < n; ++k)
      s += pieces[gen() % pieces.size()];
    EXPECT_EQ(fast.clean(s), slow.clean(s)) << s;
    EXPECT_EQ(fast_upper.clean(s), slow_upper.clean(s)) << s;
  }
}

TEST(TextPipeline, FiveMegabyteReviewIsCleanedWhole) {
  // 5 MB: words and tags, then many '<' with no '>' (which must not make the cleaner quadratic).
  std::string big;
  for (int i = 0; i < 250000; ++i)
    big += "Word<br />";
  big += std::string(2500000, '<') + " tail";
  ASSERT_GT(big.size(), 5u * 1000 * 1000);
  std::string out;
  TextPipeline().clean(big, out);
  size_t words = 0;
  for_each_word(out, [&](std::string_view w) {
    ++words;
    EXPECT_TRUE(w == "word" || w == "tail");
  });
  EXPECT_EQ(words, 250001u);
}

}  // namespace
}  // namespace loom::data
