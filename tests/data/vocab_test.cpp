// tests/data/vocab_test.cpp: vocabulary fitting (top-k, first-occurrence ties, threads), OOV
// policies, save/load with its validation errors, and padding/truncation.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "data/encode.h"
#include "data/vocab.h"
#include "fixtures.h"

namespace loom::data {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_file;

TEST(Vocabulary, KeepsMostFrequentAndBreaksTiesByFirstOccurrence) {
  // counts: a 2, c 2, b 1, d 1; first occurrences: b, a, c, d.
  const std::vector<std::string> docs = {"b a c", "c a d"};
  const Vocabulary v = Vocabulary::fit(docs, {5, OovPolicy::Drop});
  const std::vector<std::string> expected = {"a", "c", "b", "d"};
  EXPECT_EQ(v.words(), expected);
  EXPECT_EQ(v.counts(), (std::vector<int64_t>{2, 2, 1, 1}));
  EXPECT_EQ(v.id("a"), 1);
  EXPECT_EQ(v.id("d"), 4);
  EXPECT_EQ(v.word(0), "<pad>");
  EXPECT_EQ(v.word(2), "c");

  const Vocabulary small = Vocabulary::fit(docs, {3, OovPolicy::Drop});  // ids 0..2: two words
  EXPECT_EQ(small.words(), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(small.id("b"), -1);
  expect_error([&] { small.word(3); }, {"Vocabulary::word", "3"});
}

TEST(Vocabulary, UnkPolicyReservesIdOne) {
  const Vocabulary v = Vocabulary::fit({"x y y"}, {4, OovPolicy::Unk});
  EXPECT_EQ(v.first_word_id(), 2);
  EXPECT_EQ(v.id("y"), 2);
  EXPECT_EQ(v.id("x"), 3);
  EXPECT_EQ(v.id("never"), Vocabulary::kUnk);
  EXPECT_EQ(v.word(1), "<unk>");
  std::vector<int32_t> ids;
  v.encode("y never x", ids);
  EXPECT_EQ(ids, (std::vector<int32_t>{2, 1, 3}));

  const Vocabulary drop = Vocabulary::fit({"x y y"}, {4, OovPolicy::Drop});
  ids.clear();
  drop.encode("y never x", ids);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 2}));
}

TEST(Vocabulary, FitsOnTheGivenRowsOnly) {
  const std::vector<std::string> docs = {"train words", "test only", "train"};
  const Vocabulary v = Vocabulary::fit(docs, {10, OovPolicy::Drop}, {2, 0});
  EXPECT_EQ(v.words(), (std::vector<std::string>{"train", "words"}));
  EXPECT_EQ(v.id("test"), -1);
  expect_error([&] { Vocabulary::fit(docs, {10, OovPolicy::Drop}, {3}); }, {"row 3"});
}

TEST(Vocabulary, ThreadsGiveTheSameResult) {
  std::mt19937 gen(3);
  std::vector<std::string> docs(257);
  for (auto& d : docs) {
    for (int w = 0; w < 30; ++w)
      d += (w ? " w" : "w") + std::to_string(gen() % 97 % (1 + gen() % 97));
  }
  const Vocabulary one = Vocabulary::fit(docs, {40, OovPolicy::Drop}, {}, 1);
  for (int threads : {2, 3, 8}) {
    const Vocabulary many = Vocabulary::fit(docs, {40, OovPolicy::Drop}, {}, threads);
    EXPECT_EQ(many.words(), one.words()) << threads << " threads";
    EXPECT_EQ(many.counts(), one.counts());
    EXPECT_EQ(encode_texts(docs, many, {20}, {}, threads), encode_texts(docs, one, {20}, {}, 1));
  }
}

TEST(Vocabulary, RejectsTooFewWords) {
  expect_error([] { Vocabulary::fit({"a"}, {1, OovPolicy::Drop}); }, {"num_words", ">= 2"});
  expect_error([] { Vocabulary::fit({"a"}, {2, OovPolicy::Unk}); }, {"num_words", ">= 3"});
}

TEST(Vocabulary, SaveAndLoadRoundTrip) {
  TempDir dir;
  const Vocabulary v = Vocabulary::fit({"the cat the hat", "a cat"}, {6, OovPolicy::Unk});
  v.save(dir.str("vocab.json"));
  const Vocabulary w = Vocabulary::load(dir.str("vocab.json"));
  EXPECT_EQ(w.words(), v.words());
  EXPECT_EQ(w.counts(), v.counts());
  EXPECT_EQ(w.num_words(), 6);
  EXPECT_EQ(w.oov(), OovPolicy::Unk);
  EXPECT_EQ(w.id("hat"), v.id("hat"));
}

TEST(Vocabulary, LoadValidatesAndNamesTheFile) {
  TempDir dir;
  const std::string p = dir.str("v.json");
  expect_error([&] { Vocabulary::load(dir.str("missing.json")); }, {"missing.json", "cannot open"});
  write_file(p, "{\"format\": \"loom-vocab\",\n \"version\": 1,\n oops}");
  expect_error([&] { Vocabulary::load(p); }, {p, "line 3"});
  write_file(p, R"({"format": "something-else"})");
  expect_error([&] { Vocabulary::load(p); }, {p, "loom-vocab"});
  write_file(p,
             R"({"format":"loom-vocab","version":1,"num_words":5,"oov":"drop","words":["a","a"]})");
  expect_error([&] { Vocabulary::load(p); }, {p, "duplicate word 'a'"});
  write_file(p,
             R"({"format":"loom-vocab","version":1,"num_words":2,"oov":"drop","words":["a","b"]})");
  expect_error([&] { Vocabulary::load(p); }, {p, "do not fit"});
  write_file(p, R"({"format":"loom-vocab","version":1,"num_words":5,"oov":"maybe","words":[]})");
  expect_error([&] { Vocabulary::load(p); }, {p, "oov"});
  write_file(p, R"({"format":"loom-vocab","version":1,"num_words":"5","oov":"drop","words":[]})");
  expect_error([&] { Vocabulary::load(p); }, {p, "bad field"});
}

TEST(Encode, PadAndTruncateFollowKerasPadSequences) {
  const std::vector<int32_t> ids = {1, 2, 3, 4, 5};
  int32_t out[3];
  pad_or_truncate(ids, {3, PadSide::Pre, PadSide::Pre}, out);
  EXPECT_EQ(std::vector<int32_t>(out, out + 3), (std::vector<int32_t>{3, 4, 5}));
  pad_or_truncate(ids, {3, PadSide::Pre, PadSide::Post}, out);
  EXPECT_EQ(std::vector<int32_t>(out, out + 3), (std::vector<int32_t>{1, 2, 3}));
  int32_t out7[7];
  pad_or_truncate(ids, {7, PadSide::Pre, PadSide::Pre}, out7);
  EXPECT_EQ(std::vector<int32_t>(out7, out7 + 7), (std::vector<int32_t>{0, 0, 1, 2, 3, 4, 5}));
  pad_or_truncate(ids, {7, PadSide::Post, PadSide::Pre}, out7);
  EXPECT_EQ(std::vector<int32_t>(out7, out7 + 7), (std::vector<int32_t>{1, 2, 3, 4, 5, 0, 0}));
  pad_or_truncate({}, {3}, out);
  EXPECT_EQ(std::vector<int32_t>(out, out + 3), (std::vector<int32_t>{0, 0, 0}));
  expect_error([&] { pad_or_truncate(ids, {0}, out); }, {"max_len", "got 0"});
}

TEST(Encode, EncodeTextsGivesRowsInTheRequestedOrder) {
  const std::vector<std::string> docs = {"a b", "b b c", ""};
  const Vocabulary v = Vocabulary::fit(docs, {10, OovPolicy::Drop});  // b=1 a=2 c=3
  EXPECT_EQ(encode_texts(docs, v, {3}), (std::vector<int32_t>{0, 2, 1, 1, 1, 3, 0, 0, 0}));
  EXPECT_EQ(encode_texts(docs, v, {2}, {1, 0}), (std::vector<int32_t>{1, 3, 2, 1}));
  expect_error([&] { encode_texts(docs, v, {-1}); }, {"max_len"});
}

TEST(Encode, CleanTextsIsTheSameOnAnyThreadCount) {
  std::vector<std::string> texts;
  for (int i = 0; i < 50; ++i)
    texts.push_back("Review <br />number " + std::to_string(i) + " IS Fine!");
  const TextPipeline p;
  EXPECT_EQ(clean_texts(texts, p, 4), clean_texts(texts, p, 1));
  EXPECT_EQ(clean_texts(texts, p, 1)[7], "review number is fine");
}

}  // namespace
}  // namespace loom::data
