// tests/data/stream_test.cpp: ByteStream (.bz2, .gz, plain) and read_fasttext_corpus, the
// pipelined reader, against the sequential one and against read_text_dataset + tokenize_texts;
// bad input (corrupt block, cut-short file, bad line deep in the file) named by file and place.
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "data/byte_stream.h"
#include "data/encode.h"
#include "data/fasttext_stream.h"
#include "data/readers.h"
#include "data/split.h"
#include "data/token_corpus.h"
#include "fixtures.h"

namespace loom::data {
namespace {

using testing::bzip2;
using testing::expect_error;
using testing::run_with_timeout;
using testing::TempDir;
using testing::write_file;

// One gzip member (zlib with the gzip wrapper).
std::string gzip(const std::string& text) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// `rows` fastText lines with the awkward cases mixed in: "\r\n", blank lines, invalid UTF-8,
// HTML, digits, an empty text, and no '\n' after the last line.
std::string fasttext_lines(int rows, uint64_t seed) {
  static const char* kWords[] = {"good",  "bad",    "The",         "film",      "<br />",
                                 "don't", "42",     "caf\xC3\xA9", "\xFF",      "and",
                                 "plot",  "ACTING", "a",           "wonderful", "awful"};
  SplitMix64 rng(seed);
  std::string s;
  for (int r = 0; r < rows; ++r) {
    s += rng.next() % 2 ? "__label__2" : "__label__1";
    const int n = static_cast<int>(rng.next() % 30);
    if (n > 0) s += ' ';
    for (int w = 0; w < n; ++w)
      s += std::string(kWords[rng.next() % 15]) + (w + 1 < n ? " " : "");
    if (r % 17 == 3) s += "\r";
    if (r % 23 == 5) s += "\n";
    if (r + 1 < rows) s += '\n';
  }
  return s;
}

void expect_same(const LabeledCorpus& a, const LabeledCorpus& b) {
  EXPECT_EQ(a.corpus.words, b.corpus.words);
  EXPECT_EQ(a.corpus.offsets, b.corpus.offsets);
  EXPECT_EQ(a.corpus.tokens, b.corpus.tokens);
  EXPECT_EQ(a.labels, b.labels);
}

std::string read_all(const std::string& path, size_t piece, int decode_threads = 1) {
  ByteStream s(path, decode_threads);
  std::string out, buf(piece, '\0');
  while (size_t n = s.read(buf.data(), piece))
    out.append(buf.data(), n);
  return out;
}

TEST(ByteStream, ThreeFormatsGiveTheSameBytes) {
  TempDir dir;
  const std::string text = fasttext_lines(3000, 1);
  write_file(dir.path() / "a.ft", text);
  write_file(dir.path() / "a.ft.bz2", bzip2(text, 1));
  write_file(dir.path() / "a.ft.gz", gzip(text));
  // Two streams (members) back to back, as `cat` or pbzip2/pigz make them: one file.
  write_file(dir.path() / "two.bz2", bzip2(text.substr(0, 777)) + bzip2(text.substr(777)));
  write_file(dir.path() / "two.gz", gzip(text.substr(0, 777)) + gzip(text.substr(777)));
  for (const char* name : {"a.ft", "a.ft.bz2", "a.ft.gz", "two.bz2", "two.gz"}) {
    for (size_t piece : {size_t{1}, size_t{4093}, size_t{1} << 20}) {
      if (piece == 1 && std::string(name) != "two.bz2") continue;  // byte by byte: slow, once
      EXPECT_EQ(read_all(dir.str(name), piece), text) << name << " in pieces of " << piece;
    }
  }
  EXPECT_EQ(ByteStream(dir.str("a.ft.bz2")).compression(), Compression::Bzip2);
  EXPECT_EQ(ByteStream(dir.str("a.ft.gz")).compression(), Compression::Gzip);
  EXPECT_EQ(ByteStream(dir.str("a.ft")).compression(), Compression::None);
}

TEST(ByteStream, CorruptOrShortFilesNameTheFileAndOffset) {
  TempDir dir;
  const std::string text = fasttext_lines(6000, 2);  // ~400 kB: four 100k bzip2 blocks
  std::string bz = bzip2(text, 1);
  ASSERT_GT(bz.size(), 1000u);
  std::string corrupt = bz;
  corrupt[corrupt.size() / 2] = static_cast<char>(corrupt[corrupt.size() / 2] ^ 0x55);
  write_file(dir.path() / "corrupt.bz2", corrupt);
  expect_error([&] { read_all(dir.str("corrupt.bz2"), 1 << 16); },
               {"corrupt.bz2", "corrupt bzip2 data", "compressed byte offset"});
  write_file(dir.path() / "short.bz2", bz.substr(0, bz.size() - 100));
  expect_error([&] { read_all(dir.str("short.bz2"), 1 << 16); },
               {"short.bz2", "ends in the middle"});
  write_file(dir.path() / "tail.bz2", bz + "junk");
  expect_error([&] { read_all(dir.str("tail.bz2"), 1 << 16); }, {"tail.bz2", "not another bzip2"});
  std::string gz = gzip(text);
  gz[gz.size() / 2] = static_cast<char>(gz[gz.size() / 2] ^ 0x55);
  write_file(dir.path() / "corrupt.gz", gz);
  expect_error([&] { read_all(dir.str("corrupt.gz"), 1 << 16); }, {"corrupt.gz", "gzip"});
  write_file(dir.path() / "short.gz", gzip(text).substr(0, 500));
  expect_error([&] { read_all(dir.str("short.gz"), 1 << 16); }, {"short.gz", "ends in the middle"});
  expect_error([&] { ByteStream s(dir.str("missing.bz2")); }, {"missing.bz2", "cannot open"});
}

// The parallel bzip2 path against the one-thread path (the reference), byte for byte.
TEST(ByteStream, ParallelBzip2EqualsOneThread) {
  TempDir dir;
  const std::string text = fasttext_lines(6000, 8);  // ~400 kB: several 100k blocks
  const std::string runs = std::string(3000000, 'a') + std::string(5000, 'b');  // RLE: ~20 bytes
  write_file(dir.path() / "blocks.bz2", bzip2(text, 1));
  write_file(dir.path() / "streams.bz2", bzip2(text.substr(0, 777), 1) + bzip2(text, 2) +
                                             bzip2("") + bzip2("x") + bzip2(text.substr(5)));
  write_file(dir.path() / "empty.bz2", bzip2(""));
  write_file(dir.path() / "empties.bz2", bzip2("") + bzip2(""));
  // Blocks of very different sizes: a tiny one, long runs (a few bytes of data, MBs of text),
  // and 100k blocks of text.
  write_file(dir.path() / "sizes.bz2",
             bzip2("z", 1) + bzip2(runs + text + runs, 1) + bzip2(text.substr(0, 100)));
  for (const char* name : {"blocks.bz2", "streams.bz2", "empty.bz2", "empties.bz2", "sizes.bz2"}) {
    const std::string want = read_all(dir.str(name), 1 << 16);
    for (int threads : {2, 3, 8}) {
      for (size_t piece : {size_t{4093}, size_t{1} << 20}) {
        run_with_timeout(60, [&] {
          EXPECT_EQ(read_all(dir.str(name), piece, threads), want)
              << name << " on " << threads << " threads in pieces of " << piece;
        });
      }
    }
  }
  EXPECT_EQ(read_all(dir.str("streams.bz2"), 1, 2), read_all(dir.str("streams.bz2"), 4093));
  ByteStream s(dir.str("blocks.bz2"), 2);
  std::string buf(1 << 20, '\0');
  while (s.read(buf.data(), buf.size()) > 0) {
  }
  EXPECT_EQ(s.bytes_out(), static_cast<int64_t>(text.size()));
  EXPECT_EQ(s.compressed_bytes_read(), static_cast<int64_t>(bzip2(text, 1).size()));
}

TEST(ByteStream, ParallelBzip2BadFilesNameTheFileAndOffset) {
  TempDir dir;
  const std::string text = fasttext_lines(6000, 9);
  const std::string bz = bzip2(text, 1);
  std::string corrupt = bz;
  corrupt[corrupt.size() / 2] = static_cast<char>(corrupt[corrupt.size() / 2] ^ 0x55);
  write_file(dir.path() / "corrupt.bz2", corrupt);
  write_file(dir.path() / "tail.bz2", bz + "junk");
  write_file(dir.path() / "tail2.bz2", bz + "BZ");
  for (int threads : {2, 3}) {
    run_with_timeout(60, [&] {
      expect_error([&] { read_all(dir.str("corrupt.bz2"), 1 << 16, threads); },
                   {"corrupt.bz2", "corrupt bzip2 data", "compressed byte offset"});
      expect_error([&] { read_all(dir.str("tail.bz2"), 1 << 16, threads); },
                   {"tail.bz2", "not another bzip2"});
      expect_error([&] { read_all(dir.str("tail2.bz2"), 1 << 16, threads); },
                   {"tail2.bz2", "not another bzip2"});
      // Cut in a block, in the end-of-stream trailer, in the first block's magic.
      for (size_t keep : {bz.size() - 100, bz.size() - 3, size_t{7}, size_t{4}}) {
        write_file(dir.path() / "short.bz2", bz.substr(0, keep));
        expect_error([&] { read_all(dir.str("short.bz2"), 1 << 16, threads); },
                     {"short.bz2", "ends in the middle", "truncated"});
      }
    });
  }
}

TEST(FastTextStream, PipelineEqualsSequentialAndTheInMemoryPath) {
  TempDir dir;
  const std::string text = fasttext_lines(2500, 3);
  write_file(dir.path() / "a.ft", text);
  write_file(dir.path() / "a.ft.bz2", bzip2(text, 1));
  write_file(dir.path() / "a.ft.gz", gzip(text));
  for (bool stopwords : {false, true}) {
    TextOptions o;
    o.remove_stopwords = stopwords;
    const TextPipeline pipeline(o);
    // The reference: the whole file read as TextExamples, then tokenized in memory.
    const std::vector<TextExample> examples = read_text_dataset(dir.str("a.ft"));
    LabeledCorpus want;
    want.corpus = tokenize_texts(examples, pipeline, 1);
    for (const auto& e : examples)
      want.labels.push_back(e.label);
    for (const char* name : {"a.ft", "a.ft.bz2", "a.ft.gz"}) {
      SCOPED_TRACE(name);
      expect_same(read_fasttext_corpus_sequential(dir.str(name), pipeline), want);
      for (int threads : {1, 2, 3}) {
        for (size_t batch : {size_t{1}, size_t{300}, size_t{1} << 20}) {
          StreamOptions so;
          so.threads = threads;
          so.decode_threads = threads;  // 1: libbz2 on one thread; 2, 3: block by block
          so.batch_bytes = batch;
          so.queue_batches = batch == 1 ? 1 : 0;
          run_with_timeout(60, [&] {
            const LabeledCorpus got = read_fasttext_corpus(dir.str(name), pipeline, so);
            expect_same(got, want);
            EXPECT_EQ(got.stats.text_bytes, static_cast<int64_t>(text.size()));
          });
        }
      }
    }
  }
}

TEST(FastTextStream, MaxRowsKeepsTheFirstRowsAndTheirWordsOnly) {
  TempDir dir;
  write_file(dir.path() / "a.ft.bz2", bzip2(fasttext_lines(3000, 4)));
  const TextPipeline pipeline;
  const int64_t all = read_fasttext_corpus_sequential(dir.str("a.ft.bz2"), pipeline).corpus.rows();
  ASSERT_EQ(all, 3000);  // blank lines are not rows
  for (int64_t max_rows : {1, 7, 1000, 2999, 5000}) {
    const LabeledCorpus want =
        read_fasttext_corpus_sequential(dir.str("a.ft.bz2"), pipeline, max_rows);
    EXPECT_EQ(want.corpus.rows(), std::min(max_rows, all));
    StreamOptions so;
    so.threads = 2;
    so.batch_bytes = 500;
    so.max_rows = max_rows;
    run_with_timeout(
        60, [&] { expect_same(read_fasttext_corpus(dir.str("a.ft.bz2"), pipeline, so), want); });
  }
}

TEST(FastTextStream, BadInputNamesTheFirstPlaceInTheFile) {
  TempDir dir;
  // A line without a label deep in the file (line 5001), and a second bad line after it: the
  // pipeline reports the first, whatever its threads do.
  std::string text;
  for (int r = 1; r <= 8000; ++r)
    text += r == 5001 ? "no label here\n" : r == 7000 ? "__label__3 x\n" : "__label__1 fine\n";
  write_file(dir.path() / "deep.ft.bz2", bzip2(text, 1));
  const TextPipeline pipeline;
  StreamOptions so;
  so.threads = 3;
  so.batch_bytes = 256;
  run_with_timeout(60, [&] {
    expect_error([&] { read_fasttext_corpus(dir.str("deep.ft.bz2"), pipeline, so); },
                 {"deep.ft.bz2", "line 5001", "__label__"});
  });
  expect_error([&] { read_fasttext_corpus_sequential(dir.str("deep.ft.bz2"), pipeline); },
               {"deep.ft.bz2", "line 5001"});
  // A corrupt block in the middle of the compressed file.
  std::string bz = bzip2(fasttext_lines(6000, 5), 1);
  bz[bz.size() / 2] = static_cast<char>(bz[bz.size() / 2] ^ 0x55);
  write_file(dir.path() / "corrupt.ft.bz2", bz);
  run_with_timeout(60, [&] {
    expect_error([&] { read_fasttext_corpus(dir.str("corrupt.ft.bz2"), pipeline, so); },
                 {"corrupt.ft.bz2", "corrupt bzip2 data", "compressed byte offset"});
  });
  expect_error([&] { read_fasttext_corpus_sequential(dir.str("corrupt.ft.bz2"), pipeline); },
               {"corrupt.ft.bz2", "corrupt bzip2 data", "compressed byte offset"});
  expect_error([&] { read_fasttext_corpus(dir.str("missing.ft.bz2"), pipeline, so); },
               {"missing.ft.bz2", "cannot open"});
}

TEST(FastTextStream, EmptyFileGivesAnEmptyCorpus) {
  TempDir dir;
  write_file(dir.path() / "empty.ft", "");
  write_file(dir.path() / "empty.ft.bz2", bzip2(""));
  write_file(dir.path() / "blank.ft.gz", gzip("\n\r\n\n"));
  const TextPipeline pipeline;
  for (const char* name : {"empty.ft", "empty.ft.bz2", "blank.ft.gz"}) {
    run_with_timeout(60, [&] {
      const LabeledCorpus c = read_fasttext_corpus(dir.str(name), pipeline);
      EXPECT_EQ(c.corpus.rows(), 0) << name;
      EXPECT_TRUE(c.labels.empty()) << name;
    });
  }
}

TEST(FastTextStream, EveryReaderTakesCompressedFiles) {
  TempDir dir;
  const std::string text = fasttext_lines(500, 6);
  write_file(dir.path() / "a.ft", text);
  write_file(dir.path() / "a.ft.bz2", bzip2(text));
  const std::vector<TextExample> plain = read_text_dataset(dir.str("a.ft"));
  const std::vector<TextExample> bz = read_text_dataset(dir.str("a.ft.bz2"));
  ASSERT_EQ(plain.size(), bz.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(plain[i].text, bz[i].text) << i;
    EXPECT_EQ(plain[i].id, bz[i].id) << i;  // the line number
  }
  const std::string csv = "review,sentiment\n\"Good, \"\"very\"\" good\",positive\nBad.,negative\n";
  write_file(dir.path() / "r.csv.gz", gzip(csv));
  const std::vector<TextExample> rows = read_text_dataset(dir.str("r.csv.gz"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].text, "Good, \"very\" good");
  EXPECT_EQ(rows[1].label, 0.0f);
}

TEST(FastTextStream, Uint16IdsEqualInt32Ids) {
  TempDir dir;
  write_file(dir.path() / "a.ft.gz", gzip(fasttext_lines(400, 7)));
  const LabeledCorpus c = read_fasttext_corpus(dir.str("a.ft.gz"), TextPipeline());
  const Vocabulary vocab = Vocabulary::fit(c.corpus, {12, OovPolicy::Unk});
  EncodeOptions eo;
  eo.max_len = 9;
  const std::vector<int32_t> wide = encode_texts(c.corpus, vocab, eo);
  std::vector<uint16_t> narrow(wide.size());
  encode_texts(c.corpus, vocab, eo, {}, 2, narrow.data());
  ASSERT_EQ(std::vector<int32_t>(narrow.begin(), narrow.end()), wide);
  EXPECT_GT(*std::max_element(wide.begin(), wide.end()), 1);  // not all padding
  const Vocabulary big = Vocabulary::from_words({"a"}, {70000, OovPolicy::Drop});
  EXPECT_FALSE(fits_uint16(big));
  expect_error([&] { encode_texts(c.corpus, big, eo, {}, 1, narrow.data()); }, {"uint16"});
}

}  // namespace
}  // namespace loom::data
