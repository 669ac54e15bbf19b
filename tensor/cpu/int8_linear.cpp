// tensor/cpu/int8_linear.cpp: the CPU's int8 dynamic-quantized Linear (FusedKernels::linear_int8;
// contract: tensor/fused_kernels.h; caller: tensor/inference.cpp) and the helpers of
// int8_linear.h.
//
// Why uint8 activations and int8 weights: VPDPBUSD multiplies unsigned bytes by signed bytes.
// It widens every product to 32 bits before adding a quad, so nothing saturates on the way; the
// older AVX2 route (VPMADDUBSW) adds pairs of products into int16 with saturation, which is why
// PyTorch's fbgemm keeps activations to 7 bits (reduce_range). loom's GEMM has no VPMADDUBSW
// kernel (a CPU without VNNI runs the scalar reference, which also sums in int32), so the
// activations keep all 8 bits. docs/labs/11-inference.md works an example.
#include "tensor/cpu/int8_linear.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "tensor/cpu/backend.h"
#include "tensor/cpu/gemm/gemm.h"

namespace loom::cpu {

void quantize_rows_u8(const float* x, int64_t m, int64_t k, int64_t ldx, uint8_t* q,
                      kernels::RowQuantParams* params) {
  for (int64_t i = 0; i < m; ++i) {
    const float* row = x + i * ldx;
    float lo = 0.0f, hi = 0.0f;
    for (int64_t j = 0; j < k; ++j) {
      lo = std::min(lo, row[j]);
      hi = std::max(hi, row[j]);
    }
    const kernels::RowQuantParams p = kernels::uint8_row_params(lo, hi);
    params[i] = p;
    uint8_t* out = q + i * k;
    for (int64_t j = 0; j < k; ++j)
      out[j] = kernels::quantize_activation(row[j], p);
  }
}

namespace {
MatmulArgs product_args(int64_t m, const Int8Weights& w) {
  MatmulArgs g;  // acc [m, n] = q [m, k] x values^T (values stored [n, k])
  g.m = m, g.n = w.n, g.k = w.k;
  g.trans_b = true;
  g.lda = std::max<int64_t>(1, w.k), g.ldb = std::max<int64_t>(1, w.k);
  g.ldc = std::max<int64_t>(1, w.n);
  return g;
}
}  // namespace

void pack_weights(const Int8Weights& w, gemm::PackedU8S8B& out) {
  gemm::pack_b_u8s8(w.values, product_args(1, w), out);
}

void int8_product(const uint8_t* q, const kernels::RowQuantParams* params, int64_t m,
                  const Int8Weights& w, const gemm::PackedU8S8B* packed, const float* bias,
                  int32_t* acc, float* y, int64_t ldy, bool accumulate) {
  const MatmulArgs g = product_args(m, w);
  if (packed != nullptr)
    gemm::gemm_u8s8_packed(q, *packed, acc, g);
  else
    gemm::gemm_u8s8(q, w.values, acc, g);
  for (int64_t i = 0; i < m; ++i) {
    const float s_x = params[i].scale;
    const int32_t z = params[i].zero_point;
    const int32_t* a = acc + i * w.n;
    float* out = y + i * ldy;
    for (int64_t j = 0; j < w.n; ++j) {
      float v = s_x * w.scales[j] * static_cast<float>(a[j] - z * w.sums[j]);
      if (bias != nullptr) v += bias[j];
      out[j] = accumulate ? out[j] + v : v;
    }
  }
}

std::shared_ptr<const void> CpuBackend::pack_int8(const Int8Weights& w) {
  auto packed = std::make_shared<gemm::PackedU8S8B>();
  pack_weights(w, *packed);
  return packed;
}

void CpuBackend::linear_int8(const float* x, int64_t m, const Int8Weights& w, const float* bias,
                             float* y) {
  if (m == 0 || w.n == 0) return;
  // Reused between calls (grown, never shrunk): no allocation per call in the steady state.
  thread_local std::vector<uint8_t> q;
  thread_local std::vector<kernels::RowQuantParams> params;
  thread_local std::vector<int32_t> acc;
  q.resize(std::max(q.size(), static_cast<std::size_t>(m * w.k)));
  params.resize(std::max(params.size(), static_cast<std::size_t>(m)));
  acc.resize(std::max(acc.size(), static_cast<std::size_t>(m * w.n)));
  quantize_rows_u8(x, m, w.k, w.k, q.data(), params.data());
  int8_product(q.data(), params.data(), m, w, nullptr, bias, acc.data(), y, w.n,
               /*accumulate=*/false);
}

}  // namespace loom::cpu
