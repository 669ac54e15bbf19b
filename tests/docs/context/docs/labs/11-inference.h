// tests/docs/context/docs/labs/11-inference.h: what the samples of docs/labs/11-inference.md take
// from the code they were lifted from: the inference and quantization headers (tensor/), the
// bench's arithmetic (apps/imdb/bench_stats.h) and the helpers of tests/tensor/quantize_test.cpp.
#pragma once

#include "apps/imdb/bench_stats.h"
#include "tensor/inference.h"
#include "tensor/kernels/int8_quantize.h"
#include "tensor/quantize.h"

using namespace loom::imdb;

// tests/tensor/quantize_test.cpp
loom::Tensor random_tensor(const loom::Shape& shape, double lo, double hi, uint64_t seed);
float max_abs_diff(const loom::Tensor& a, const loom::Tensor& b);
struct SmallLstm {
  SmallLstm();
  int64_t V, E, H, B, T;
  loom::Tensor embedding, w_ih, w_hh, b_ih, b_hh, ids;
  loom::Tensor reference_h() const;
};
// The locals of SteadyStateAllocatesNoStorage that its excerpt uses.
extern const SmallLstm m;
extern const loom::Tensor table, h, c, w, b, out;
extern const loom::RecurrentWeights fp32;
