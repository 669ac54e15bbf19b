// tensor/kernels/int8_quantize.h: the scalar formulas of int8 dynamic quantization, written once
// for the host utilities (tensor/quantize.cpp) and the CPU kernels (tensor/cpu/int8_linear.cpp).
//
// Weights: symmetric int8 per output channel (row n of W [N, K]): scale_n = max_k |W[n, k]| / 127,
// q = round(w / scale_n) in [-127, 127] (never -128, so that -q is representable and the grid is
// symmetric about 0). Activations: asymmetric uint8 per row (one review's vector at one step):
// the row's range [lo, hi], widened to hold 0 so that 0 is exact (padding, ReLU zeros), is cut
// into 255 steps: scale = (hi - lo) / 255, zero point z = round(-lo / scale) in [0, 255],
// q = clamp(round(x / scale) + z, 0, 255); x ~ (q - z) * scale. Rounding is to nearest, ties to
// even (std::nearbyint in the default rounding mode: one vector instruction, so the per-step
// quantization of the LSTM's h vectorises), the same on every backend.
// Leaves out: per-tensor scales, int4, and the GEMM (tensor/cpu/gemm/gemm.h: gemm_u8s8).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace loom::kernels {

constexpr float kInt8WeightMax = 127.0f;  // symmetric: [-127, 127]
constexpr float kUint8Steps = 255.0f;

// The per-channel weight scale for a row whose largest |w| is `max_abs` (1 for an all-zero row,
// so that dequantizing gives zeros and nothing divides by 0).
inline float int8_weight_scale(float max_abs) {
  return max_abs > 0.0f ? max_abs / kInt8WeightMax : 1.0f;
}

inline int8_t quantize_weight(float w, float scale) {
  // BEGIN LAB 11 TASK 1 uses(w, scale)
  const float q = std::nearbyint(w / scale);
  return static_cast<int8_t>(std::clamp(q, -kInt8WeightMax, kInt8WeightMax));
  // END LAB 11 TASK 1
}

// The scale and zero point of an activation row with minimum `lo` and maximum `hi`.
struct RowQuantParams {
  float scale;
  int32_t zero_point;
};
inline RowQuantParams uint8_row_params(float lo, float hi) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  const float scale = hi > lo ? (hi - lo) / kUint8Steps : 1.0f;
  const float z = std::nearbyint(-lo / scale);
  return {scale, static_cast<int32_t>(std::clamp(z, 0.0f, kUint8Steps))};
}

inline uint8_t quantize_activation(float x, RowQuantParams p) {
  const float q = std::nearbyint(x / p.scale) + static_cast<float>(p.zero_point);
  return static_cast<uint8_t>(std::clamp(q, 0.0f, kUint8Steps));
}

}  // namespace loom::kernels
