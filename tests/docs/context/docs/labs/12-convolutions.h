// tests/docs/context/docs/labs/12-convolutions.h: what the samples of docs/labs/12-convolutions.md
// take from the code they were lifted from (tests/nn/conv1d_test.cpp,
// tests/apps/imdb_seq2cnn_test.cpp): the convolution headers, the Seq2CNN model, and the
// tests' local variables.
#pragma once

#include "apps/imdb/seq2cnn.h"
#include "nn/conv1d.h"
#include "tensor/conv1d.h"

// conv1d_test.cpp: one case of the loop over shapes and dtypes.
struct Case {
  int64_t B, T, C, O, K, P;
};
extern const Case c;
extern const loom::DType dt;
extern loom::Generator gen;
::testing::AssertionResult all_close(const loom::Tensor& a, const loom::Tensor& b, double atol,
                                     double rtol);  // tests/nn/nn_test_util.h

// imdb_seq2cnn_test.cpp
extern loom::imdb::Seq2Cnn net;
extern const loom::Tensor tokens;
double max_abs_diff(const loom::Tensor& a, const loom::Tensor& b);
