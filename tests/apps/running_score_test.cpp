// tests/apps/running_score_test.cpp: RunningScore (apps/imdb/running_score.h) keeps the epoch's
// loss and accuracy sums as tensors and must give exactly what the host loop it replaced gave:
//   correct += (z >= 0) == (label > 0.5);  loss_sum += double(loss) * rows;
// bit for bit, from a resumed starting value, for float32 and float16 logits.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "apps/imdb/running_score.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"
#include "tests/common/error_of.h"

namespace {

using loom::DType;
using loom::Tensor;
using loom::imdb::RunningScore;

struct HostSums {
  double loss_sum, correct;
};

// The batches: logits around 0 (exact zeros and -0 included: 0 counts as positive), 0/1 labels.
void run_batches(DType logit_dtype, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  HostSums host{12.375, 7.0};  // a resumed epoch's partial sums
  RunningScore score(loom::kCPU, host.loss_sum, host.correct);
  for (int64_t rows : {5, 1, 17, 32}) {
    std::vector<float> z(rows), y(rows);
    for (int64_t i = 0; i < rows; ++i) {
      z[i] = i % 7 == 0 ? 0.0f : (i % 11 == 0 ? -0.0f : normal(rng));
      y[i] = static_cast<float>(rng() % 2);
    }
    Tensor logits = loom::from_vector<float>(z, {rows, 1});
    if (logit_dtype != DType::Float32) {
      logits = loom::cast(logits, logit_dtype);
      z = loom::cast(logits, DType::Float32).to_vector<float>();  // what the host read saw
    }
    const float loss = 0.1f + 0.01f * static_cast<float>(rng() % 97);
    score.add(loom::scalar_tensor(loss), logits, loom::from_vector<float>(y, {rows, 1}), rows);
    for (int64_t i = 0; i < rows; ++i)
      host.correct += (z[i] >= 0) == (y[i] > 0.5f);
    host.loss_sum += static_cast<double>(loss) * static_cast<double>(rows);
  }
  double loss_sum = 0, correct = 0;
  score.read(loss_sum, correct);
  EXPECT_EQ(loss_sum, host.loss_sum);  // exactly: the same roundings in the same order
  EXPECT_EQ(correct, host.correct);
}

TEST(RunningScore, EqualsTheHostLoopBitForBitFloat32) {
  run_batches(DType::Float32, 1);
  run_batches(DType::Float32, 2);
}

TEST(RunningScore, EqualsTheHostLoopBitForBitFloat16Logits) {
  run_batches(DType::Float16, 3);
}

TEST(RunningScore, ReadingTwiceChangesNothing) {
  RunningScore score(loom::kCPU);
  score.add(loom::scalar_tensor(0.5), loom::from_vector<float>({1, -1}, {2, 1}),
            loom::from_vector<float>({1, 1}, {2, 1}), 2);
  double a = 0, b = 0;
  score.read(a, b);
  score.read(a, b);
  EXPECT_EQ(a, 1.0);
  EXPECT_EQ(b, 1.0);
}

TEST(RunningScore, MismatchedShapesNameTheRows) {
  RunningScore score(loom::kCPU);
  const std::string msg = loom::test::error_of([&] {
    score.add(loom::scalar_tensor(0.5), loom::zeros({3, 1}), loom::zeros({2, 1}), 3);
  });
  EXPECT_NE(msg.find("RunningScore::add"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 rows"), std::string::npos) << msg;
}

}  // namespace
