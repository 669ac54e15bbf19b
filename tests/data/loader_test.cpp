// tests/data/loader_test.cpp: seeded splits (golden values from the Python reference), samplers,
// datasets and the DataLoader, including the batch-larger-than-dataset error.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "data/dataset.h"
#include "data/split.h"
#include "fixtures.h"

namespace loom::data {
namespace {

using testing::expect_error;

TEST(Split, SplitMix64MatchesThePublishedSequence) {
  SplitMix64 rng(0);
  EXPECT_EQ(rng.next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(rng.next(), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(rng.next(), 0x06C45D188009454FULL);
}

TEST(Split, PermutationMatchesThePythonReference) {
  // /usr/bin/python3 tests/reference/data_pipeline.py --permutation 10 42  (and 5 0)
  EXPECT_EQ(permutation(10, 42), (std::vector<int64_t>{0, 9, 5, 8, 6, 4, 7, 2, 1, 3}));
  EXPECT_EQ(permutation(5, 0), (std::vector<int64_t>{2, 3, 1, 4, 0}));
  EXPECT_NE(permutation(100, 1), permutation(100, 2));
  auto p = permutation(1000, 9);
  std::sort(p.begin(), p.end());
  for (int64_t i = 0; i < 1000; ++i)
    ASSERT_EQ(p[static_cast<size_t>(i)], i);
}

TEST(Split, RandomSplitIsEightyTwentyDisjointAndSeeded) {
  const SplitIndices s = random_split(10, 0.2, 42);
  EXPECT_EQ(s.train, (std::vector<int64_t>{0, 9, 5, 8, 6, 4, 7, 2}));
  EXPECT_EQ(s.validation, (std::vector<int64_t>{1, 3}));
  const SplitIndices big = random_split(50000, 0.2, 7);
  EXPECT_EQ(big.train.size(), 40000u);
  EXPECT_EQ(big.validation.size(), 10000u);
  std::set<int64_t> all(big.train.begin(), big.train.end());
  all.insert(big.validation.begin(), big.validation.end());
  EXPECT_EQ(all.size(), 50000u);
  expect_error([] { random_split(10, 0.0, 1); }, {"validation_fraction", "(0, 1)"});
  expect_error([] { random_split(1, 0.5, 1); }, {"empty part"});
}

TEST(Split, OfficialSplitAndClassBalance) {
  std::vector<TextExample> ex(5);
  ex[0].split = ex[1].split = ex[2].split = Split::Train;
  ex[3].split = ex[4].split = Split::Test;
  ex[0].label = ex[3].label = 1.0f;
  const SplitIndices s = official_split(ex);
  EXPECT_EQ(s.train, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(s.validation, (std::vector<int64_t>{3, 4}));
  const ClassBalance b = class_balance(ex, s.train);
  EXPECT_EQ(b.total, 3);
  ASSERT_EQ(b.counts.size(), 2u);
  EXPECT_EQ(b.counts[0], (std::pair<float, int64_t>{0.0f, 2}));
  EXPECT_EQ(b.to_string(), "label 0: 2 (66.7%), label 1: 1 (33.3%)");
  std::vector<TextExample> csv(2);  // no official split in a CSV
  expect_error([&] { official_split(csv); }, {"official_split", "0 train"});
}

TEST(Sampler, SequentialAndRandomAreFunctionsOfTheEpoch) {
  EXPECT_EQ(SequentialSampler(4).indices(3), (std::vector<int64_t>{0, 1, 2, 3}));
  const RandomSampler r(50, 5);
  EXPECT_EQ(r.indices(0), r.indices(0));
  EXPECT_NE(r.indices(0), r.indices(1));
  auto e1 = r.indices(1);
  std::sort(e1.begin(), e1.end());
  EXPECT_EQ(e1, SequentialSampler(50).indices(0));
  const SubsetSampler sub({7, 3, 5}, false, 0);
  EXPECT_EQ(sub.indices(4), (std::vector<int64_t>{7, 3, 5}));
  const SubsetSampler shuffled({7, 3, 5, 9, 11}, true, 1);
  auto s = shuffled.indices(2);
  std::sort(s.begin(), s.end());
  EXPECT_EQ(s, (std::vector<int64_t>{3, 5, 7, 9, 11}));
}

TEST(Sampler, DistributedShardsCoverEveryRowWithEqualSizes) {
  for (bool shuffle : {false, true}) {
    std::multiset<int64_t> seen;
    for (int rank = 0; rank < 3; ++rank) {
      const DistributedSampler d(10, rank, 3, shuffle, 99);
      EXPECT_EQ(d.size(), 4);
      const auto idx = d.indices(5);
      EXPECT_EQ(static_cast<int64_t>(idx.size()), d.size());
      seen.insert(idx.begin(), idx.end());
    }
    EXPECT_EQ(seen.size(), 12u);  // 10 rows padded to 12 by wrapping around
    for (int64_t i = 0; i < 10; ++i)
      EXPECT_GE(seen.count(i), 1u);
  }
  EXPECT_EQ(DistributedSampler(5, 1, 2, false, 0).indices(0), (std::vector<int64_t>{1, 3, 0}));
  expect_error([] { DistributedSampler(5, 2, 2, false, 0); }, {"rank 2 world 2"});
}

std::shared_ptr<TokenDataset> tiny_tokens(int64_t n, int64_t len) {
  std::vector<int32_t> tokens(static_cast<size_t>(n * len));
  std::iota(tokens.begin(), tokens.end(), 0);
  std::vector<float> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    labels[static_cast<size_t>(i)] = static_cast<float>(i % 2);
  return std::make_shared<TokenDataset>(tokens, labels, len);
}

TEST(DataLoader, BatchesFollowTheSamplerOrder) {
  auto ds = tiny_tokens(7, 2);
  DataLoader loader(ds,
                    std::make_shared<SubsetSampler>(std::vector<int64_t>{6, 0, 3, 1, 5}, false, 0),
                    {2, false});
  expect_error([&] { loader.batch(0); }, {"set_epoch"});
  loader.set_epoch(0);
  ASSERT_EQ(loader.num_batches(), 3);
  const Batch b = loader.batch(0);
  EXPECT_EQ(b.batch_size, 2);
  EXPECT_EQ(b.seq_len, 2);
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{12, 13, 0, 1}));
  EXPECT_EQ(b.labels, (std::vector<float>{0.0f, 0.0f}));
  EXPECT_EQ(b.indices, (std::vector<int64_t>{6, 0}));
  const Batch last = loader.batch(2);
  EXPECT_EQ(last.batch_size, 1);  // the final partial batch
  EXPECT_EQ(last.indices, (std::vector<int64_t>{5}));
  expect_error([&] { loader.batch(3); }, {"batch 3 out of range"});
}

TEST(DataLoader, DropLastAndOversizedBatches) {
  auto ds = tiny_tokens(7, 2);
  auto seq = std::make_shared<SequentialSampler>(7);
  DataLoader drop(ds, seq, {3, true});
  EXPECT_EQ(drop.num_batches(), 2);
  DataLoader one(ds, seq, {100, false});  // batch larger than the dataset: one partial batch
  one.set_epoch(0);
  EXPECT_EQ(one.num_batches(), 1);
  EXPECT_EQ(one.batch(0).batch_size, 7);
  expect_error(
      [&] {
        DataLoader(ds, seq, {100, true});
      },
      {"batch_size 100", "7 rows", "drop_last", "no batch"});
  expect_error([&] { DataLoader(ds, seq, {0, false}); }, {"batch_size must be > 0"});
  DataLoader bad(ds, std::make_shared<SequentialSampler>(9), {2, false});
  expect_error([&] { bad.set_epoch(0); }, {"row 7 out of range"});
  expect_error([] { TokenDataset({1, 2, 3}, {0.0f, 1.0f}, 2); }, {"3 ids", "[2, 2]"});
}

TEST(SeriesWindowDataset, WindowsAndHorizons) {
  const SeriesWindowDataset ds({1, 2, 3, 4, 5, 6}, 3, 2);
  EXPECT_EQ(ds.size(), 2);
  const Batch b = ds.get_batch({1, 0});
  EXPECT_EQ(b.seq_len, 3);
  EXPECT_EQ(b.label_dim, 2);
  EXPECT_EQ(b.features, (std::vector<float>{2, 3, 4, 1, 2, 3}));
  EXPECT_EQ(b.labels, (std::vector<float>{5, 6, 4, 5}));
  EXPECT_TRUE(b.tokens.empty());
  expect_error([] { SeriesWindowDataset({1, 2}, 2, 1); }, {"fewer than window + horizon"});
}

}  // namespace
}  // namespace loom::data
