// tests/tensor/errors_test.cpp: bad input throws loom::Error naming the op and the shapes.
#include <gtest/gtest.h>

#include "tensor/ops.h"
#include "tensor/tensor.h"
#include "tests/common/error_of.h"

using namespace loom;

using loom::test::error_of;

TEST(Errors, BroadcastMismatchNamesOpAndShapes) {
  const std::string msg = error_of([] { add(zeros({2, 3}), zeros({4})); });
  EXPECT_NE(msg.find("add"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4]"), std::string::npos) << msg;
}

TEST(Errors, DtypeMismatch) {
  const std::string msg = error_of([] { mul(zeros({2}), zeros({2}, DType::Float64)); });
  EXPECT_NE(msg.find("mul: dtype mismatch (float32 [2] and float64 [2])"), std::string::npos)
      << msg;
}

TEST(Errors, MatmulShapes) {
  const std::string msg = error_of([] { matmul(zeros({2, 3}), zeros({2, 3})); });
  EXPECT_NE(msg.find("matmul: shapes [2, 3] and [2, 3] cannot be multiplied"), std::string::npos)
      << msg;
  EXPECT_NE(error_of([] {
              matmul(zeros({3}), zeros({3, 1}));
            }).find(">= 2 dims"),
            std::string::npos);
}

TEST(Errors, ViewsAndDims) {
  EXPECT_NE(error_of([] {
              zeros({2, 3}).view({4});
            }).find("view: cannot view shape [2, 3]"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              zeros({2, 3}).t().view({6});
            }).find("not contiguous"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              sum(zeros({2, 3}), 2);
            }).find("sum: dim 2 out of range"),
            std::string::npos);
  EXPECT_NE(error_of([] { zeros({2, 3}).narrow(1, 2, 2); }).find("narrow"), std::string::npos);
  EXPECT_NE(error_of([] {
              zeros({2, 3}).expand({4, 3});
            }).find("expand: cannot expand shape [2, 3]"),
            std::string::npos);
}

TEST(Errors, IndexOutOfRange) {
  const std::string msg = error_of([] {
    index_select(zeros({4, 2}), 0, from_vector<int64_t>({1, 4}, {2}));
  });
  EXPECT_NE(msg.find("index_select: index[1] = 4 is out of range"), std::string::npos) << msg;
  EXPECT_NE(error_of([] {
              index_select(zeros({4, 2}), 0, zeros({2}));
            }).find("int64 or int32"),
            std::string::npos);
}

TEST(Errors, ConcatAndWhere) {
  const std::string msg = error_of([] { concat({zeros({2, 3}), zeros({2, 4})}, 0); });
  EXPECT_NE(msg.find("concat: tensor 1 has shape [2, 4]"), std::string::npos) << msg;
  EXPECT_NE(error_of([] { where(zeros({2}), zeros({2}), zeros({2})); }).find("cond must be bool"),
            std::string::npos);
}

TEST(Errors, MissingCudaBackend) {
  const std::string msg = error_of([] { zeros({2}, Device("cuda:0")); });
  EXPECT_NE(msg.find("no CUDA backend"), std::string::npos) << msg;
}

TEST(Errors, UndefinedTensorAndDataPtr) {
  EXPECT_NE(error_of([] { Tensor().shape(); }).find("undefined"), std::string::npos);
  EXPECT_NE(
      error_of([] { zeros({2}).data_ptr<double>(); }).find("data_ptr: tensor has dtype float32"),
      std::string::npos);
  EXPECT_NE(error_of([] { log(zeros({2}, DType::Int32)); }).find("log"), std::string::npos);
}
