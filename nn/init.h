// nn/init.h: parameter initialisation matching PyTorch's defaults, from a seedable Generator.
//
// PyTorch's default initialisers, which loom's layers reproduce in distribution (not bit for
// bit: loom draws from its own Philox generator, see tensor/generator.h):
//   Linear(in, out):     weight, bias ~ U(-1/sqrt(in), 1/sqrt(in))
//                        (kaiming_uniform(a = sqrt(5)) gives the weight exactly that bound:
//                         gain sqrt(2 / (1 + 5)) * sqrt(3 / in) = 1/sqrt(in))
//   Embedding(V, E):     weight ~ N(0, 1), then the padding_idx row set to zero
//   LSTM(in, H):         every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))
// Each function fills the tensor in place (any float dtype, any device) and advances `gen`.
//
// Leaves out: xavier/orthogonal and the other torch.nn.init schemes (no loom layer uses them).
#pragma once

#include <cstdint>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace loom::nn::init {

// t <- U(low, high), elementwise.
void uniform_(const Tensor& t, double low, double high, Generator& gen);
// t <- N(mean, stddev^2), elementwise.
void normal_(const Tensor& t, double mean, double stddev, Generator& gen);
// t <- 0.
void zeros_(const Tensor& t);

// The bound of kaiming_uniform(a) for a given fan_in: gain(a) * sqrt(3 / fan_in) with
// gain(a) = sqrt(2 / (1 + a^2)) (leaky_relu gain). a = sqrt(5) gives 1/sqrt(fan_in).
double kaiming_uniform_bound(int64_t fan_in, double a);

// PyTorch's defaults, by layer (the bound each layer draws from):
double linear_bound(int64_t in_features);  // 1/sqrt(in_features), weight and bias
double lstm_bound(int64_t hidden_size);    // 1/sqrt(hidden_size), every LSTM tensor

}  // namespace loom::nn::init
