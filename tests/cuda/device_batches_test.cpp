// tests/cuda/device_batches_test.cpp: DeviceBatchQueue and ResidentDataset (cuda/device_batches.h)
// on a real GPU: batches arrive whole and in order, a batch stays intact until the next-but-one
// next() even when the compute stream lags far behind the copies, the resident gather equals the
// host's rows, and bad input is a clear error. Each test skips with the device report when there
// is no CUDA device; the "no device" errors are checked everywhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/runtime/device.h"
#include "cuda/device_batches.h"
#include "data/batch.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"
#include "tests/common/error_of.h"
#include "tests/cuda/cuda_test_util.h"

namespace {

using loom::Device;
using loom::DType;
using loom::Tensor;
using loom::cuda::DeviceBatch;
using loom::cuda::DeviceBatchQueue;
using loom::cuda::ResidentDataset;
using loom::test::error_of;

const Device kGpu("cuda:0");

// Batch i: `rows` rows of seq_len tokens, every value derived from (i, row, column), so a token
// from the wrong batch or row is caught.
loom::data::Batch make_batch(int64_t i, int64_t rows, int64_t seq_len) {
  loom::data::Batch b;
  b.batch_size = rows;
  b.seq_len = seq_len;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < seq_len; ++c)
      b.tokens.push_back(static_cast<int32_t>((i * 7919 + r * 131 + c) % 100000));
    b.labels.push_back(static_cast<float>((i + r) % 2));
  }
  return b;
}

void expect_batch(const DeviceBatch& got, const loom::data::Batch& want, const std::string& what) {
  ASSERT_EQ(got.rows, want.batch_size) << what;
  EXPECT_EQ(got.tokens.shape(), (loom::Shape{want.batch_size, want.seq_len})) << what;
  EXPECT_EQ(got.labels.shape(), (loom::Shape{want.batch_size, 1})) << what;
  EXPECT_EQ(got.tokens.device(), kGpu) << what;
  EXPECT_EQ(got.tokens.to_vector<int32_t>(), want.tokens) << what;
  EXPECT_EQ(got.labels.to_vector<float>(), want.labels) << what;
  EXPECT_EQ(got.label_values, want.labels) << what;
}

TEST(DeviceBatchesWithoutDevice, ConstructorsSayWhy) {
  if (loom::cuda::device_count() > 0) GTEST_SKIP() << "this machine has a CUDA device";
  for (const std::string& msg : {error_of([] { DeviceBatchQueue q(kGpu, 100, 100); }), error_of([] {
                                   ResidentDataset d(kGpu, {1, 2}, {0.0f}, 2);
                                 })}) {
    EXPECT_TRUE(msg.find("no CUDA device") != std::string::npos ||
                msg.find("not built") != std::string::npos)
        << msg;
  }
}

class DeviceBatches : public ::testing::Test {
 protected:
  void SetUp() override {
    LOOM_SKIP_WITHOUT_CUDA_DEVICE();
    loom::cuda::set_device(0);
  }
};

TEST_F(DeviceBatches, TheQueueDeliversEveryBatchWholeAndInOrder) {
  const int64_t max_rows = 32, seq_len = 20, n = 25;
  DeviceBatchQueue q(kGpu, max_rows, seq_len);
  EXPECT_EQ(q.slots(), 3);
  auto rows_of = [&](int64_t i) { return i == n - 1 ? int64_t{5} : max_rows - (i % 3); };
  q.submit(make_batch(0, rows_of(0), seq_len));
  for (int64_t i = 0; i < n; ++i) {
    const DeviceBatch b = q.next();
    EXPECT_EQ(b.index, i);
    if (i + 1 < n) q.submit(make_batch(i + 1, rows_of(i + 1), seq_len));
    expect_batch(b, make_batch(i, rows_of(i), seq_len), "batch " + std::to_string(i));
  }
  EXPECT_EQ(q.pending(), 0);
}

TEST_F(DeviceBatches, ABatchSurvivesUntilTheNextButOneNextEvenWhenComputeLags) {
  // The compute stream gets a few milliseconds of GEMMs per step, so the host (and the copy
  // stream) run far ahead of it. Each step then snapshots its own batch AND the previous one
  // (allowed by the next-but-one rule) on the compute stream, after the GEMMs. If the queue let
  // a copy overwrite a slot the compute stream may still read, a snapshot would catch it.
  const int64_t rows = 64, seq_len = 50, n = 12;
  DeviceBatchQueue q(kGpu, rows, seq_len);
  const Tensor a =
      loom::mul(loom::rand({2048, 2048}, loom::TensorOptions(DType::Float32, kGpu)), 1.0 / 2048);
  std::vector<Tensor> snap_own, snap_prev;
  q.submit(make_batch(0, rows, seq_len));
  DeviceBatch prev;
  for (int64_t i = 0; i < n; ++i) {
    DeviceBatch b = q.next();
    if (i + 1 < n) q.submit(make_batch(i + 1, rows, seq_len));
    Tensor heavy = a;
    for (int k = 0; k < 4; ++k)
      heavy = loom::matmul(heavy, a);  // keeps the compute stream busy; the host moves on
    snap_own.push_back(b.tokens.clone());
    if (i > 0) snap_prev.push_back(prev.tokens.clone());
    prev = b;
  }
  for (int64_t i = 0; i < n; ++i)
    EXPECT_EQ(snap_own[i].to_vector<int32_t>(), make_batch(i, rows, seq_len).tokens)
        << "batch " << i << " was overwritten before its step read it";
  for (int64_t i = 1; i < n; ++i)
    EXPECT_EQ(snap_prev[i - 1].to_vector<int32_t>(), make_batch(i - 1, rows, seq_len).tokens)
        << "batch " << i - 1 << " was overwritten during the next step";
}

TEST_F(DeviceBatches, QueueMisuseIsAClearError) {
  DeviceBatchQueue q(kGpu, 8, 4);
  EXPECT_NE(error_of([&] { q.next(); }).find("no batch waiting"), std::string::npos);
  EXPECT_NE(error_of([&] { q.submit(make_batch(0, 9, 4)); }).find("1 to 8 rows"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { q.submit(make_batch(0, 2, 5)); }).find("expected a token batch [rows, 4]"),
      std::string::npos);
  q.submit(make_batch(0, 2, 4));
  EXPECT_NE(error_of([&] { q.submit(make_batch(1, 2, 4)); }).find("raise `ahead`"),
            std::string::npos);
  EXPECT_EQ(q.pending(), 1);
  expect_batch(q.next(), make_batch(0, 2, 4), "the batch before the refused one");
}

TEST_F(DeviceBatches, TheResidentDatasetGathersTheOrderedRows) {
  const int64_t n = 1000, seq_len = 30, batch = 64;
  const loom::data::Batch all = make_batch(3, n, seq_len);  // the whole dataset as one batch
  ResidentDataset ds(kGpu, all.tokens, all.labels, seq_len);
  EXPECT_EQ(ds.size(), n);
  EXPECT_EQ(ds.tokens().shape(), (loom::Shape{n, seq_len}));
  std::vector<int64_t> order;
  for (int64_t i = 0; i < 700; ++i)
    order.push_back((i * 389) % n);  // a permutation-like subset, as a split's shuffle
  ds.set_order(order);
  EXPECT_EQ(ds.num_batches(batch), 11);
  EXPECT_EQ(ds.num_batches(batch, /*drop_last=*/true), 10);
  for (int64_t k = 0; k < ds.num_batches(batch); ++k) {
    const DeviceBatch b = ds.batch(k, batch);
    loom::data::Batch want;
    want.seq_len = seq_len;
    for (int64_t r = k * batch; r < std::min<int64_t>((k + 1) * batch, 700); ++r) {
      const int64_t row = order[r];
      want.tokens.insert(want.tokens.end(), all.tokens.begin() + row * seq_len,
                         all.tokens.begin() + (row + 1) * seq_len);
      want.labels.push_back(all.labels[row]);
    }
    want.batch_size = static_cast<int64_t>(want.labels.size());
    expect_batch(b, want, "resident batch " + std::to_string(k));
  }
  // gather_into: the same rows into static tensors (a graph's inputs).
  const Tensor t = loom::empty({batch, seq_len}, loom::TensorOptions(DType::Int32, kGpu));
  const Tensor l = loom::empty({batch, 1}, loom::TensorOptions(DType::Float32, kGpu));
  EXPECT_EQ(ds.gather_into(2, batch, t, l), batch);
  EXPECT_EQ(t.to_vector<int32_t>(), ds.batch(2, batch).tokens.to_vector<int32_t>());
}

TEST_F(DeviceBatches, ResidentMisuseIsAClearError) {
  EXPECT_NE(error_of([] {
              ResidentDataset d(kGpu, {1, 2, 3}, {0.0f, 1.0f}, 2);
            }).find("expected tokens [n, seq_len]"),
            std::string::npos);
  ResidentDataset ds(kGpu, {1, 2, 3, 4}, {0.0f, 1.0f}, 2);
  EXPECT_NE(error_of([&] { ds.batch(0, 1); }).find("set_order first"), std::string::npos);
  EXPECT_NE(error_of([&] {
              ds.set_order({0, 2});
            }).find("order[1] = 2 is not a row"),
            std::string::npos);
  ds.set_order({1, 0, 1});
  EXPECT_NE(error_of([&] { ds.batch(2, 2); }).find("outside the 2 batches"), std::string::npos);
  const Tensor wrong = loom::empty({2, 3}, loom::TensorOptions(DType::Int32, kGpu));
  const Tensor l = loom::empty({2, 1}, loom::TensorOptions(DType::Float32, kGpu));
  EXPECT_NE(error_of([&] { ds.gather_into(0, 2, wrong, l); }).find("needs contiguous tokens"),
            std::string::npos);
  EXPECT_EQ(ds.batch(1, 2).tokens.to_vector<int32_t>(), (std::vector<int32_t>{3, 4}));
}

}  // namespace
