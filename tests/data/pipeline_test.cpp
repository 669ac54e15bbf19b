// tests/data/pipeline_test.cpp: the whole path of docs/labs/05-data.md and data/README.md, from a
// .tar.gz on disk to padded batches out of a Prefetcher, on a tiny generated archive; then the
// fast path (ImdbArchive + TokenCorpus) checked against it. The code between the "lab:" markers is
// the sample shown in those docs: keep them in sync.
#include <gtest/gtest.h>

#include "data/dataset.h"
#include "data/encode.h"
#include "data/imdb_reader.h"
#include "data/prefetcher.h"
#include "data/split.h"
#include "data/token_corpus.h"
#include "fixtures.h"

namespace loom::data {
namespace {

TEST(Pipeline, FromArchiveToPaddedBatches) {
  testing::TempDir dir;
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 40; ++i) {
    const bool pos = i % 2 == 1;
    files.push_back({"aclImdb/train/" + std::string(pos ? "pos/" : "neg/") + std::to_string(i) +
                         (pos ? "_9.txt" : "_2.txt"),
                     pos ? "A <b>great</b>, great film! Loved it." : "Bad. Boring<br />film..."});
  }
  const std::string archive = dir.str("aclImdb_v1.tar.gz");
  const std::string vocab_path = dir.str("vocab.json");
  testing::write_tar_gz(archive, files);
  int64_t batches_seen = 0;
  double waited = 0;

  // lab: begin
  TextPipeline pipeline;  // strip HTML, digits, symbols; lowercase
  ImdbReadOptions read;
  read.transform = clean_transform(pipeline);  // cleaned as read_aclimdb copies each review
  read.threads = 0;                            // all cores
  std::vector<TextExample> ex = read_aclimdb(archive, read);

  std::vector<std::string> cleaned;
  std::vector<float> labels;
  for (auto& e : ex) {
    cleaned.push_back(std::move(e.text));
    labels.push_back(e.label);
  }
  SplitIndices split = random_split(static_cast<int64_t>(ex.size()), 0.2, /*seed=*/42);
  Vocabulary vocab = Vocabulary::fit(cleaned, {500, OovPolicy::Drop}, split.train);  // train only
  vocab.save(vocab_path);                                          // predict loads it back
  std::vector<int32_t> ids = encode_texts(cleaned, vocab, {100});  // [n, 100], 'pre'/'pre'

  auto ds = std::make_shared<TokenDataset>(ids, labels, 100);
  DataLoader loader(ds, std::make_shared<SubsetSampler>(split.train, true, 42), {10, false});
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    loader.set_epoch(epoch);
    Prefetcher<Batch> pf(
        loader.num_batches(), [&](int64_t i) { return loader.batch(i); }, 1, 4);
    Batch b;
    while (pf.next(b)) {
      // b.tokens: [b.batch_size, 100] int32, b.labels: [b.batch_size] float
      ++batches_seen;
    }
    waited += pf.stats().wait_seconds;
  }
  // lab: end

  EXPECT_EQ(ex.size(), 40u);
  EXPECT_EQ(split.train.size(), 32u);
  EXPECT_EQ(batches_seen, 2 * 4);  // 32 training rows in batches of 10: 10, 10, 10, 2
  EXPECT_GE(waited, 0.0);
  EXPECT_EQ(cleaned[0], "bad boring film");  // row 0: train/neg/0_2.txt
  EXPECT_EQ(vocab.words()[0], "great");      // 2 per positive review
  EXPECT_EQ(Vocabulary::load(vocab_path).words(), vocab.words());
  // 'pre' padding: the words sit at the end of the row.
  const std::vector<int32_t> row0(ids.begin(), ids.begin() + 100);
  EXPECT_EQ(row0[96], 0);
  EXPECT_EQ(row0[97], vocab.id("bad"));
  EXPECT_EQ(row0[99], vocab.id("film"));
}

TEST(Pipeline, FastPathGivesTheSameRows) {
  // The path tests/bench/bench_data.cpp times: the archive stays in memory (ImdbArchive), each
  // token is hashed once (TokenCorpus), the vocabulary counts integers. Same rows as above.
  testing::TempDir dir;
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 40; ++i) {
    files.push_back({"aclImdb/" + std::string(i % 4 ? "train/" : "test/") +
                         (i % 2 ? "pos/" : "neg/") + std::to_string(i) +
                         (i % 2 ? "_9.txt" : "_2.txt"),
                     "Review " + std::to_string(i % 7) + " <br />is " +
                         (i % 2 ? "GOOD, good fun" : "bad: so BAD") + (i % 3 ? " indeed" : "")});
  }
  const std::string archive = dir.str("aclImdb_v1.tar.gz");
  testing::write_tar_gz(archive, files);

  // lab: fast begin
  TextOptions options;
  options.remove_stopwords = true;
  TextPipeline pipeline(options);
  ImdbArchive reviews(archive);  // inflated in memory; text(i) is a view, no copy
  TokenCorpus corpus = tokenize_texts(
      reviews.size(), [&](int64_t i) { return reviews.text(i); }, pipeline, /*threads=*/0);
  SplitIndices split = official_split(reviews.examples());
  Vocabulary vocab = Vocabulary::fit(corpus, {500, OovPolicy::Drop}, split.train, 0);
  std::vector<int32_t> ids = encode_texts(corpus, vocab, {100}, {}, 0);  // [n, 100]
  // lab: fast end

  // The string path on the same archive gives the same vocabulary and rows.
  const std::vector<TextExample> ex = read_aclimdb(archive);
  const std::vector<std::string> cleaned = clean_texts(ex, pipeline);
  const Vocabulary slow_vocab = Vocabulary::fit(cleaned, {500, OovPolicy::Drop}, split.train);
  EXPECT_EQ(vocab.words(), slow_vocab.words());
  EXPECT_EQ(vocab.counts(), slow_vocab.counts());
  EXPECT_EQ(ids, encode_texts(cleaned, slow_vocab, {100}));
  ASSERT_EQ(reviews.size(), 40);
  EXPECT_EQ(corpus.cleaned(0), cleaned[0]);
  // Train rows: 20 positive ("good" twice each), 10 negative ("bad" twice), "review" in all 30;
  // "is", "so" are stopwords.
  ASSERT_GE(vocab.words().size(), 3u);
  EXPECT_EQ(vocab.words()[0], "good");
  EXPECT_EQ(vocab.words()[1], "review");
  EXPECT_EQ(vocab.words()[2], "bad");
  EXPECT_EQ(vocab.id("is"), -1);
}

}  // namespace
}  // namespace loom::data
