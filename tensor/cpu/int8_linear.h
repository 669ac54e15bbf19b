// tensor/cpu/int8_linear.h (internal): int8 dynamic-quantized products on raw CPU buffers, shared
// by the linear_int8 kernel and the int8 LSTM recurrence (lstm_inference.cpp).
//
// y = x W^T in three moves: quantize each row of x to uint8 (its own scale s_x and zero point z),
// multiply on the packed u8 x s8 -> s32 GEMM, then per element
//   y[i, j] = s_x[i] * s_w[j] * (acc[i, j] - z[i] * sums[j])   (+ bias[j])
// which is sum_k (q_x - z) * s_x * q_w * s_w: the zero point is taken out after the GEMM, so the
// GEMM itself sees plain unsigned bytes (what VPDPBUSD multiplies). Exact in int32 while
// k * 255 * 127 < 2^31 (k <= 66,000; the Tensor ops check it).
// Leaves out: threads (the GEMM splits a big product itself; inside a parallel region it runs on
// the calling thread) and any check of the pointers.
#pragma once

#include <cstdint>

#include "tensor/cpu/gemm/gemm.h"
#include "tensor/fused_kernels.h"
#include "tensor/kernels/int8_quantize.h"

namespace loom::cpu {

// Rows of x [m, k] (row stride ldx) into q [m, k] uint8 and params[m].
void quantize_rows_u8(const float* x, int64_t m, int64_t k, int64_t ldx, uint8_t* q,
                      kernels::RowQuantParams* params);

// y [m, n] (row stride ldy) = (accumulate ? y : 0) + dequantized (q W^T) + bias (bias may be
// null). acc: int32 scratch of m * n. packed: null, or W^T packed once by pack_weights (a
// loop that multiplies by the same W many times skips packing it each time).
void int8_product(const uint8_t* q, const kernels::RowQuantParams* params, int64_t m,
                  const Int8Weights& w, const gemm::PackedU8S8B* packed, const float* bias,
                  int32_t* acc, float* y, int64_t ldy, bool accumulate);
// W^T [k, n] in the GEMM's panels.
void pack_weights(const Int8Weights& w, gemm::PackedU8S8B& out);

}  // namespace loom::cpu
