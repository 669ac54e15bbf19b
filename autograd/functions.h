// autograd/functions.h: the differentiable ops on Variables.
//
// Each function computes its value with the same-named Tensor op in tensor/ops.h and records
// a Node whose backward sits next to it in autograd/ops/<family>.cpp. Semantics (shapes,
// broadcasting, dtypes, errors) are exactly those of the Tensor op. Index, condition and
// mask arguments are plain Tensors: they are never differentiated.
#pragma once

#include <vector>

#include "autograd/variable.h"
#include "tensor/ops.h"

namespace loom {

// ---- elementwise, broadcasting (ops/elementwise.cpp) ------------------------------------
Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable add(const Variable& a, double s);
Variable sub(const Variable& a, double s);
Variable rsub(double s, const Variable& a);  // s - a
Variable mul(const Variable& a, double s);
Variable div(const Variable& a, double s);
Variable rdiv(double s, const Variable& a);  // s / a

Variable operator+(const Variable& a, const Variable& b);
Variable operator-(const Variable& a, const Variable& b);
Variable operator*(const Variable& a, const Variable& b);
Variable operator/(const Variable& a, const Variable& b);
Variable operator+(const Variable& a, double s);
Variable operator+(double s, const Variable& a);
Variable operator-(const Variable& a, double s);
Variable operator-(double s, const Variable& a);
Variable operator*(const Variable& a, double s);
Variable operator*(double s, const Variable& a);
Variable operator/(const Variable& a, double s);
Variable operator/(double s, const Variable& a);
Variable operator-(const Variable& a);

// ---- unary (ops/unary.cpp) ----------------------------------------------------------------
Variable neg(const Variable& x);
Variable exp(const Variable& x);
Variable log(const Variable& x);
Variable tanh(const Variable& x);
Variable sigmoid(const Variable& x);
Variable relu(const Variable& x);
Variable leaky_relu(const Variable& x, double negative_slope = 0.01);
Variable elu(const Variable& x, double alpha = 1.0);
Variable sqrt(const Variable& x);
Variable pow(const Variable& x, double exponent);

// ---- matmul (ops/matmul.cpp): [..., m, k] @ [..., k, n] -> [..., m, n] --------------------
Variable matmul(const Variable& a, const Variable& b);

// ---- reductions (ops/reduce.cpp) ----------------------------------------------------------
Variable sum(const Variable& x);
Variable sum(const Variable& x, int64_t dim, bool keepdim = false);
Variable mean(const Variable& x);
Variable mean(const Variable& x, int64_t dim, bool keepdim = false);
// The gradient goes to the first maximal element (as argmax picks it).
Variable max(const Variable& x);
Variable max(const Variable& x, int64_t dim, bool keepdim = false);

// ---- shape (ops/shape.cpp) ----------------------------------------------------------------
Variable reshape(const Variable& x, const Shape& shape);
Variable transpose(const Variable& x, int64_t d0, int64_t d1);
Variable permute(const Variable& x, const std::vector<int64_t>& dims);
Variable narrow(const Variable& x, int64_t dim, int64_t start, int64_t length);
Variable select(const Variable& x, int64_t dim, int64_t index);
Variable unsqueeze(const Variable& x, int64_t dim);
Variable squeeze(const Variable& x, int64_t dim);
Variable expand(const Variable& x, const Shape& shape);
Variable concat(const std::vector<Variable>& xs, int64_t dim = 0);
Variable stack(const std::vector<Variable>& xs, int64_t dim = 0);  // unsqueeze + concat
std::vector<Variable> split(const Variable& x, int64_t split_size, int64_t dim = 0);
std::vector<Variable> chunk(const Variable& x, int64_t chunks, int64_t dim = 0);

// ---- indexing and selection (ops/index.cpp) -----------------------------------------------
// Embedding lookup: index_select(weight [V, E], 0, ids [N]) -> [N, E]; backward scatter-adds.
Variable index_select(const Variable& x, int64_t dim, const Tensor& index);
Variable where(const Tensor& cond, const Variable& a, const Variable& b);
Variable masked_fill(const Variable& x, const Tensor& mask, double value);
Variable cast(const Variable& x, DType dtype);

}  // namespace loom
