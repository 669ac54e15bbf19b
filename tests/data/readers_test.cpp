// tests/data/readers_test.cpp: aclImdb (folder and .tar.gz), Kaggle CSV, series CSV and fastText
// readers on tiny fixtures written here, and their bad input: each error names the path, or the
// file and line.
#include <gtest/gtest.h>

#include <algorithm>

#include "data/csv.h"
#include "data/encode.h"
#include "data/fasttext.h"
#include "data/imdb_reader.h"
#include "data/readers.h"
#include "data/utf8.h"
#include "fixtures.h"

namespace loom::data {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_file;
using testing::write_tar_gz;

// (path inside the archive, content), deliberately not in canonical order.
std::vector<std::pair<std::string, std::string>> imdb_files() {
  return {
      {"aclImdb/test/pos/0_7.txt", "Test positive."},
      {"aclImdb/train/pos/3_8.txt", "Great<br />film."},
      {"aclImdb/README", "not a review"},
      {"aclImdb/train/unsup/0_0.txt", "unlabelled, skipped"},
      {"aclImdb/train/neg/2_1.txt", std::string("Bad\0movie \xE9", 11)},
      {"aclImdb/train/pos/1_10.txt", ""},
      {"aclImdb/test/neg/5_2.txt", "Test negative."},
  };
}

void write_imdb_folder(const TempDir& dir) {
  for (const auto& [name, content] : imdb_files())
    write_file(dir.path() / name, content);
}

void check_canonical(const std::vector<TextExample>& ex) {
  ASSERT_EQ(ex.size(), 5u);
  // Sorted by split (train first), label (neg first), id.
  EXPECT_EQ(ex[0].split, Split::Train);
  EXPECT_EQ(ex[0].label, 0.0f);
  EXPECT_EQ(ex[0].id, 2);
  EXPECT_EQ(ex[0].rating, 1);
  EXPECT_EQ(ex[0].text, std::string("Bad\0movie \xEF\xBF\xBD", 13));  // NUL kept, bad byte replaced
  EXPECT_EQ(ex[1].id, 1);
  EXPECT_EQ(ex[1].text, "");  // an empty review is kept
  EXPECT_EQ(ex[1].rating, 10);
  EXPECT_EQ(ex[2].id, 3);
  EXPECT_EQ(ex[2].label, 1.0f);
  EXPECT_EQ(ex[2].text, "Great<br />film.");
  EXPECT_EQ(ex[3].split, Split::Test);
  EXPECT_EQ(ex[3].id, 5);
  EXPECT_EQ(ex[4].id, 0);
  EXPECT_EQ(ex[4].label, 1.0f);
}

TEST(AclImdb, ReadsTheFolderInCanonicalOrder) {
  TempDir dir;
  write_imdb_folder(dir);
  check_canonical(read_aclimdb(dir.str("aclImdb")));
  check_canonical(read_aclimdb(dir.str()));  // the parent folder works too
  ImdbReadOptions train_only;
  train_only.test = false;
  EXPECT_EQ(read_aclimdb(dir.str(), train_only).size(), 3u);
}

TEST(AclImdb, ReadsTheTarballLikeTheFolder) {
  TempDir dir;
  write_tar_gz(dir.str("imdb.tar.gz"), imdb_files());
  check_canonical(read_aclimdb(dir.str("imdb.tar.gz")));
}

TEST(AclImdb, TransformOverlapsReadingAndGivesTheSameResult) {
  TempDir dir;
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 300; ++i) {
    files.push_back({"aclImdb/" + std::string(i % 3 ? "train" : "test") + "/" +
                         (i % 2 ? "pos" : "neg") + "/" + std::to_string(i) + "_" +
                         std::to_string(i % 2 ? 8 : 3) + ".txt",
                     "Review <br />No. " + std::to_string(i) + " \xE9!"});
  }
  write_tar_gz(dir.str("many.tar.gz"), files);
  const TextPipeline pipeline;
  ImdbReadOptions options;
  options.transform = clean_transform(pipeline);
  options.threads = 1;
  const auto one = read_aclimdb(dir.str("many.tar.gz"), options);
  options.threads = 4;
  const auto four = read_aclimdb(dir.str("many.tar.gz"), options);
  ASSERT_EQ(one.size(), 300u);
  ASSERT_EQ(four.size(), 300u);
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(four[i].id, one[i].id);
    EXPECT_EQ(four[i].text, one[i].text);
  }
  EXPECT_EQ(one[0].text, "review no \xEF\xBF\xBD");  // sanitized, then cleaned

  options.transform = [](TextExample& ex) {
    if (ex.id == 77) throw loom::Error("transform failed on 77");
  };
  expect_error([&] { read_aclimdb(dir.str("many.tar.gz"), options); }, {"transform failed on 77"});
}

TEST(AclImdb, FiveMegabyteReviewIsReadWhole) {
  TempDir dir;
  const std::string big(5 * 1024 * 1024 + 3, 'x');
  write_tar_gz(dir.str("big.tar.gz"), {{"aclImdb/train/pos/9_9.txt", big}});
  const auto ex = read_aclimdb(dir.str("big.tar.gz"));
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].text.size(), big.size());
}

TEST(AclImdb, BadInputNamesThePath) {
  TempDir dir;
  expect_error([&] { read_aclimdb(dir.str("nope")); }, {"nope", "does not exist"});
  expect_error([&] { read_aclimdb(dir.str()); }, {dir.str(), "no reviews found"});  // empty folder
  write_file(dir.path() / "notes.txt", "x");
  expect_error([&] { read_aclimdb(dir.str("notes.txt")); }, {"notes.txt", "neither a folder"});
  write_file(dir.path() / "corrupt.tar.gz", std::string(600, '\x1f'));
  expect_error([&] { read_aclimdb(dir.str("corrupt.tar.gz")); }, {"corrupt.tar.gz"});
  write_file(dir.path() / "bad" / "train" / "pos" / "review.txt", "x");
  expect_error([&] { read_aclimdb(dir.str("bad")); }, {"train/pos/review.txt", "<id>_<rating>"});
}

TEST(Csv, HandlesQuotesCommasNewlinesAndCrLf) {
  const std::string data =
      "\xEF\xBB\xBFreview,sentiment\r\n"
      "\"He said \"\"wow\"\", twice\nand left\",positive\r\n"
      "plain text,negative\n"
      "\n"
      "\"\",negative";
  CsvParser p(data, "mem.csv");
  std::vector<std::string> f;
  int64_t line = 0;
  ASSERT_TRUE(p.next(f, &line));
  EXPECT_EQ(f, (std::vector<std::string>{"review", "sentiment"}));
  ASSERT_TRUE(p.next(f, &line));
  EXPECT_EQ(line, 2);
  EXPECT_EQ(f[0], "He said \"wow\", twice\nand left");
  ASSERT_TRUE(p.next(f, &line));
  EXPECT_EQ(line, 4);  // line numbers count the newline inside the quoted field
  EXPECT_EQ(f, (std::vector<std::string>{"plain text", "negative"}));

  const auto ex = parse_imdb_csv(data, "mem.csv");
  ASSERT_EQ(ex.size(), 3u);  // the blank line is skipped, the empty review kept
  EXPECT_EQ(ex[0].label, 1.0f);
  EXPECT_EQ(ex[1].text, "plain text");
  EXPECT_EQ(ex[2].text, "");
  EXPECT_EQ(ex[2].id, 6);
}

TEST(Csv, TrailingDelimiterGivesAnEmptyField) {
  CsvParser p("a,b,\nc,,d", "mem");
  std::vector<std::string> f;
  ASSERT_TRUE(p.next(f));
  EXPECT_EQ(f, (std::vector<std::string>{"a", "b", ""}));
  ASSERT_TRUE(p.next(f));
  EXPECT_EQ(f, (std::vector<std::string>{"c", "", "d"}));
  EXPECT_FALSE(p.next(f));
}

TEST(Csv, UnclosedQuoteNamesFileAndLine) {
  const std::string data = "review,sentiment\nfine,positive\n\"never closed,\nnegative\n";
  expect_error([&] { parse_imdb_csv(data, "reviews.csv"); },
               {"reviews.csv", "line 3", "unclosed quote"});
  expect_error([&] { parse_imdb_csv("review,sentiment\n\"a\"x,positive\n", "r.csv"); },
               {"r.csv", "line 2", "after a closing quote"});
}

TEST(Csv, BadRowsNameFileAndLine) {
  expect_error([] { parse_imdb_csv("review,sentiment\ngood,positive\nmeh,neutral\n", "k.csv"); },
               {"k.csv", "line 3", "unknown sentiment 'neutral'"});
  expect_error([] { parse_imdb_csv("text,label\n", "k.csv"); }, {"k.csv", "review"});
  expect_error([] { parse_imdb_csv("review,sentiment\na,b,c\n", "k.csv"); },
               {"k.csv", "line 2", "expected 2 fields, got 3"});
  expect_error([] { parse_imdb_csv("", "k.csv"); }, {"k.csv", "empty"});
  expect_error([] { read_imdb_csv("/nonexistent/k.csv"); }, {"/nonexistent/k.csv"});
}

TEST(Csv, ReadsAFileWithNulBytes) {
  TempDir dir;
  write_file(dir.path() / "k.csv", std::string("review,sentiment\n\"a\0b\",negative\n", 32));
  const auto ex = read_imdb_csv(dir.str("k.csv"));
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].text, std::string("a\0b", 3));
}

TEST(SeriesCsv, ReadsDateValueRows) {
  const auto rows = parse_series_csv("month,passengers\n1949-01,112\n1949-02, 118.5\n", "air.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].date, "1949-01");
  EXPECT_DOUBLE_EQ(rows[1].value, 118.5);
  const auto named = parse_series_csv("d,a,b\nx,1,2\n", "m.csv", "b");
  EXPECT_DOUBLE_EQ(named[0].value, 2.0);
  expect_error([] { parse_series_csv("d,v\nx,1\ny,12abc\n", "s.csv"); },
               {"s.csv", "line 3", "'12abc' is not a finite number"});
  expect_error([] { parse_series_csv("d,v\nx,nan\n", "s.csv"); }, {"line 2", "finite"});
  expect_error([] { parse_series_csv("d,v\n", "s.csv"); }, {"s.csv", "no rows"});
  expect_error([] { parse_series_csv("d,v\nx,1\n", "s.csv", "w"); }, {"no column named 'w'"});
}

TEST(FastText, StreamsLabelsAndText) {
  TempDir dir;
  write_file(dir.path() / "train.ft",
             "__label__2 Great product!\r\n\n__label__1 Broke after a day\n__label__2\n"
             "__label__1 last\n");
  std::vector<TextExample> seen;
  const int64_t n = for_each_fasttext(dir.str("train.ft"), [&](TextExample& ex) {
    seen.push_back(ex);
    return seen.size() < 3;  // stop early after three
  });
  EXPECT_EQ(n, 3);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].label, 1.0f);
  EXPECT_EQ(seen[0].text, "Great product!");
  EXPECT_EQ(seen[1].label, 0.0f);
  EXPECT_EQ(seen[1].id, 3);  // line number; the blank line counted
  EXPECT_EQ(seen[2].text, "");

  FastTextReader reader(dir.str("train.ft"));
  TextExample ex;
  int count = 0;
  while (reader.next(ex))
    ++count;
  EXPECT_EQ(count, 4);
}

TEST(FastText, BadLinesNameFileAndLine) {
  TempDir dir;
  write_file(dir.path() / "a.ft", "__label__1 ok\n__label__3 what\n");
  expect_error([&] { for_each_fasttext(dir.str("a.ft"), [](TextExample&) { return true; }); },
               {"a.ft", "line 2", "unknown label '__label__3'"});
  expect_error([] { parse_fasttext_line("no label here", "b.ft", 7); }, {"b.ft", "line 7"});
  expect_error([&] { FastTextReader r(dir.str("missing.ft")); }, {"missing.ft"});
  const TextExample bad = parse_fasttext_line("__label__2 caf\xE9", "c.ft", 1);
  EXPECT_TRUE(is_valid_utf8(bad.text));
}

TEST(ReadTextDataset, DispatchesOnThePath) {
  TempDir dir;
  write_imdb_folder(dir);
  write_file(dir.path() / "k.csv", "review,sentiment\nx,positive\n");
  write_file(dir.path() / "a.txt", "__label__1 a\n__label__2 b\n__label__2 c\n");
  EXPECT_EQ(read_text_dataset(dir.str()).size(), 5u);
  EXPECT_EQ(read_text_dataset(dir.str("k.csv")).size(), 1u);
  EXPECT_EQ(read_text_dataset(dir.str("a.txt")).size(), 3u);
  EXPECT_EQ(read_text_dataset(dir.str("a.txt"), 2).size(), 2u);
  expect_error([&] { read_text_dataset(dir.str("none")); }, {"none", "does not exist"});
  write_file(dir.path() / "empty.txt", "");
  expect_error([&] { read_text_dataset(dir.str("empty.txt")); }, {"empty.txt", "no examples"});
}

}  // namespace
}  // namespace loom::data
