// nn/pooling.h: pooling a sequence over time, with the padding steps left out.
//
// x [B, T, C] is a batch of sequences (an LSTM's outputs, a convolution's feature maps) and
// `padding` [B, T] (Bool) marks the steps that are padding, not data. Each pool reduces the time
// axis to one vector per sequence, [B, C], over the real steps only:
//   max_over_time:  the largest value of each channel (its gradient goes to that step alone);
//   mean_over_time: the average of each channel.
// A sequence with no real step at all pools to zeros (and passes no gradient). Both are written
// with autograd ops, so their backward comes for free and is gradchecked in
// tests/nn/pooling_test.cpp.
//
// Leaves out: windowed pooling (kernel, stride), attention pooling.
#pragma once

#include "autograd/variable.h"

namespace loom::nn {

Variable max_over_time(const Variable& x, const Tensor& padding);
Variable mean_over_time(const Variable& x, const Tensor& padding);

}  // namespace loom::nn
