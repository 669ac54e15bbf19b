// tests/nn/pooling_test.cpp: max and mean over time with padding left out (nn/pooling.h), lab 06.
//
// The values on a hand-checked case (padding at the front, as the IMDB encoding pads); a sequence
// made only of padding pools to zeros; both pools pass a float64 gradcheck with padding present
// (no padded step receives a gradient); bad arguments name the op.
#include <gtest/gtest.h>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "nn/pooling.h"
#include "tests/common/error_of.h"

namespace {

using namespace loom;

// 2 sequences of T = 3 steps, C = 2 channels; row 0 pads its first step, row 1 is all padding.
struct Case {
  Tensor x = tensor({9, -9, 1, 2, 3, -1,  //
                     5, 5, 6, 6, 7, 7},
                    {2, 3, 2}, DType::Float64);
  Tensor padding = from_vector<bool>({true, false, false, true, true, true}, {2, 3});
};

TEST(Pooling, MaxAndMeanSkipThePaddingSteps) {
  const Case c;
  const std::vector<double> mx =
      nn::max_over_time(Variable(c.x), c.padding).data().to_vector<double>();
  const std::vector<double> mn =
      nn::mean_over_time(Variable(c.x), c.padding).data().to_vector<double>();
  // Row 0: steps 1, 2 are real: max (3, 2), mean (2, 0.5); the padded 9 / -9 are ignored.
  EXPECT_EQ(mx, (std::vector<double>{3, 2, 0, 0}));
  EXPECT_EQ(mn, (std::vector<double>{2, 0.5, 0, 0}));  // row 1: all padding -> zeros
}

TEST(Pooling, GradientsMatchFiniteDifferencesAndSkipPadding) {
  Generator g(4);
  const Tensor x = uniform({3, 5, 4}, -1, 1, g, DType::Float64);
  const Tensor padding = from_vector<bool>({true, true, false, false, false, false, false, false,
                                            false, false, true, false, true, false, false},
                                           {3, 5});
  for (int which : {0, 1}) {
    EXPECT_GRADCHECK(
        [&](const std::vector<Variable>& in) {
          return which == 0 ? nn::max_over_time(in[0], padding)
                            : nn::mean_over_time(in[0], padding);
        },
        {x});
    Variable v(x, true);
    sum(which == 0 ? nn::max_over_time(v, padding) : nn::mean_over_time(v, padding)).backward();
    // No gradient reaches a padded step.
    EXPECT_EQ(sum(abs(v.grad().select(0, 0).narrow(0, 0, 2))).item<double>(), 0.0) << which;
  }
}

TEST(Pooling, BadArgumentsNameTheOp) {
  const Case c;
  EXPECT_NE(test::error_of([&] {
              nn::max_over_time(Variable(c.x), c.padding.to(DType::Int64));
            }).find("max_over_time"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] {
              nn::mean_over_time(Variable(c.x.select(0, 0)), c.padding);
            }).find("[B, T, C]"),
            std::string::npos);
}

}  // namespace
