// nn/init.h: parameter initialisation, PyTorch's defaults and Keras', from a seedable Generator.
//
// Each layer takes an InitScheme (LinearOptions::init, EmbeddingOptions::init, LSTMOptions::init):
//   Torch (loom's default):  Linear weight, bias ~ U(-1/sqrt(in), 1/sqrt(in)); Embedding N(0, 1);
//                            every LSTM tensor ~ U(-1/sqrt(H), 1/sqrt(H)).
//   Keras (TF 2.x layers):   Dense kernel glorot_uniform, bias 0; Embedding U(-0.05, 0.05); LSTM
//                            input kernel glorot_uniform over the whole [4H, in] matrix, recurrent
//                            kernel orthogonal per gate (each [H, H] block), biases 0 with the
//                            forget gate's bias 1 (unit_forget_bias). Keras' own Orthogonal spans
//                            the whole recurrent kernel; see docs/labs/06-imdb-study.md.
// loom draws from its own Philox generator (tensor/generator.h): the distributions match, the
// numbers do not. Each fill works in place on any float dtype and device and advances `gen`.
//
// Leaves out: kaiming normal, truncated normals, sparse and identity initialisers.
#pragma once

#include <cstdint>
#include <string>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace loom::nn {

enum class InitScheme { Torch, Keras };

namespace init {

// t <- U(low, high), elementwise.
void uniform_(const Tensor& t, double low, double high, Generator& gen);
// t <- N(mean, stddev^2), elementwise.
void normal_(const Tensor& t, double mean, double stddev, Generator& gen);
// t <- 0.
void zeros_(const Tensor& t);

// Glorot (Xavier): w [fan_out, fan_in] (PyTorch's layout) <- U(-b, b), b = sqrt(6 / (fan_in +
// fan_out)); the normal form draws N(0, 2 / (fan_in + fan_out)), as torch.nn.init.xavier_normal_.
void glorot_uniform_(const Tensor& w, Generator& gen);
void glorot_normal_(const Tensor& w, Generator& gen);

// w [rows, cols] <- a matrix with orthonormal rows (rows <= cols) or columns (rows >= cols):
// the Q of the QR factorisation of a Gaussian matrix, sign-corrected so that R's diagonal is
// positive (then Q is uniformly distributed, as in torch.nn.init.orthogonal_).
void orthogonal_(const Tensor& w, Generator& gen);
// w [gates * H, H]: each gate's [H, H] block orthogonal on its own (an LSTM's recurrent weights).
void orthogonal_per_gate_(const Tensor& w, int64_t gates, Generator& gen);
// The LSTM's biases [4H] (gate order i, f, g, o) <- 0, with the forget gate's b_ih at 1 (b_ih +
// b_hh is what each step adds, so the forget bias is 1 in total).
void lstm_unit_forget_bias_(const Tensor& b_ih, const Tensor& b_hh);

// The bound of kaiming_uniform(a) for a given fan_in: gain(a) * sqrt(3 / fan_in) with
// gain(a) = sqrt(2 / (1 + a^2)) (leaky_relu gain). a = sqrt(5) gives 1/sqrt(fan_in).
double kaiming_uniform_bound(int64_t fan_in, double a);

// PyTorch's defaults, by layer (the bound each layer draws from):
double linear_bound(int64_t in_features);  // 1/sqrt(in_features), weight and bias
double lstm_bound(int64_t hidden_size);    // 1/sqrt(hidden_size), every LSTM tensor

// "torch" | "keras" <-> InitScheme; throws loom::Error naming the valid names.
InitScheme scheme_from_name(const std::string& name);
const char* scheme_name(InitScheme s);

}  // namespace init
}  // namespace loom::nn
