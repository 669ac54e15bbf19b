// tests/cuda/upload_queue_test.cpp: UploadQueue (cuda/runtime/upload_queue.h) on a real GPU: items
// arrive whole and in order, an item stays intact until the next-but-one next() even when the
// compute stream lags far behind the copies, and bad input is a clear error naming the part. Each
// test skips with the device report when there is no CUDA device; the "no device" error is
// checked everywhere.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cuda/runtime/device.h"
#include "cuda/runtime/upload_queue.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"
#include "tests/common/error_of.h"
#include "tests/cuda/cuda_test_util.h"

namespace {

using loom::Device;
using loom::DType;
using loom::Tensor;
using loom::cuda::UploadPart;
using loom::cuda::UploadQueue;
using loom::test::error_of;

const Device kGpu("cuda:0");

// The parts of a token batch: tokens [rows, seq_len] Int32, labels [rows, 1] Float32.
std::vector<UploadPart> batch_parts(int64_t max_rows, int64_t seq_len) {
  return {{DType::Int32, {max_rows, seq_len}}, {DType::Float32, {max_rows, 1}}};
}

// Item i on the host: `rows` rows of seq_len tokens, every value derived from (i, row, column),
// so a token from the wrong item or row is caught; a label per row.
std::vector<Tensor> make_item(int64_t i, int64_t rows, int64_t seq_len) {
  std::vector<int32_t> tokens;
  std::vector<float> labels;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < seq_len; ++c)
      tokens.push_back(static_cast<int32_t>((i * 7919 + r * 131 + c) % 100000));
    labels.push_back(static_cast<float>((i + r) % 2));
  }
  return {loom::from_vector<int32_t>(tokens, {rows, seq_len}),
          loom::from_vector<float>(labels, {rows, 1})};
}

void expect_item(const std::vector<Tensor>& got, const std::vector<Tensor>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), 2u) << what;
  EXPECT_EQ(got[0].shape(), want[0].shape()) << what;
  EXPECT_EQ(got[1].shape(), want[1].shape()) << what;
  EXPECT_EQ(got[0].device(), kGpu) << what;
  EXPECT_EQ(got[0].to_vector<int32_t>(), want[0].to_vector<int32_t>()) << what;
  EXPECT_EQ(got[1].to_vector<float>(), want[1].to_vector<float>()) << what;
}

TEST(UploadQueueWithoutDevice, TheConstructorSaysWhy) {
  if (loom::cuda::device_count() > 0) GTEST_SKIP() << "this machine has a CUDA device";
  const std::string msg = error_of([] { UploadQueue q(kGpu, batch_parts(100, 100)); });
  EXPECT_TRUE(msg.find("no CUDA device") != std::string::npos ||
              msg.find("not built") != std::string::npos)
      << msg;
}

class UploadQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LOOM_SKIP_WITHOUT_CUDA_DEVICE();
    loom::cuda::set_device(0);
  }
};

TEST_F(UploadQueueTest, DeliversEveryItemWholeAndInOrder) {
  const int64_t max_rows = 32, seq_len = 20, n = 25;
  UploadQueue q(kGpu, batch_parts(max_rows, seq_len));
  auto rows_of = [&](int64_t i) { return i == n - 1 ? int64_t{5} : max_rows - (i % 3); };
  q.submit(make_item(0, rows_of(0), seq_len));
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<Tensor> b = q.next();
    if (i + 1 < n) q.submit(make_item(i + 1, rows_of(i + 1), seq_len));
    expect_item(b, make_item(i, rows_of(i), seq_len), "item " + std::to_string(i));
  }
  EXPECT_NE(error_of([&] { q.next(); }).find("nothing waiting"), std::string::npos);  // all taken
}

TEST_F(UploadQueueTest, AnItemSurvivesUntilTheNextButOneNextEvenWhenComputeLags) {
  // The compute stream gets a few milliseconds of GEMMs per step, so the host (and the copy
  // stream) run far ahead of it. Each step then snapshots its own item AND the previous one
  // (allowed by the next-but-one rule) on the compute stream, after the GEMMs. If the queue let
  // a copy overwrite a slot the compute stream may still read, a snapshot would catch it.
  const int64_t rows = 64, seq_len = 50, n = 12;
  UploadQueue q(kGpu, batch_parts(rows, seq_len));
  const Tensor a =
      loom::mul(loom::rand({2048, 2048}, loom::TensorOptions(DType::Float32, kGpu)), 1.0 / 2048);
  std::vector<Tensor> snap_own, snap_prev;
  q.submit(make_item(0, rows, seq_len));
  std::vector<Tensor> prev;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<Tensor> b = q.next();
    if (i + 1 < n) q.submit(make_item(i + 1, rows, seq_len));
    Tensor heavy = a;
    for (int k = 0; k < 4; ++k)
      heavy = loom::matmul(heavy, a);  // keeps the compute stream busy; the host moves on
    snap_own.push_back(b[0].clone());
    if (i > 0) snap_prev.push_back(prev[0].clone());
    prev = b;
  }
  for (int64_t i = 0; i < n; ++i)
    EXPECT_EQ(snap_own[i].to_vector<int32_t>(), make_item(i, rows, seq_len)[0].to_vector<int32_t>())
        << "item " << i << " was overwritten before its step read it";
  for (int64_t i = 1; i < n; ++i)
    EXPECT_EQ(snap_prev[i - 1].to_vector<int32_t>(),
              make_item(i - 1, rows, seq_len)[0].to_vector<int32_t>())
        << "item " << i - 1 << " was overwritten during the next step";
}

TEST_F(UploadQueueTest, MisuseIsAClearError) {
  UploadQueue q(kGpu, batch_parts(8, 4));
  EXPECT_NE(error_of([&] { q.next(); }).find("nothing waiting"), std::string::npos);
  EXPECT_NE(error_of([&] { q.submit(make_item(0, 9, 4)); }).find("with 1 to 8 rows"),
            std::string::npos);
  EXPECT_NE(error_of([&] { q.submit(make_item(0, 2, 5)); }).find("part 0 must be a CPU int32"),
            std::string::npos);
  EXPECT_NE(error_of([&] { q.submit({make_item(0, 2, 4)[0]}); }).find("has 2 parts"),
            std::string::npos);
  q.submit(make_item(0, 2, 4));
  EXPECT_NE(error_of([&] { q.submit(make_item(1, 2, 4)); }).find("raise `ahead`"),
            std::string::npos);
  expect_item(q.next(), make_item(0, 2, 4), "the item before the refused one");
  EXPECT_NE(error_of([] {
              UploadQueue bad(kGpu, {{DType::Int32, {0, 4}}});
            }).find("part 0"),
            std::string::npos);
}

}  // namespace
