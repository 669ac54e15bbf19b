// tensor/cpu/conv1d_int8.cpp: the CPU's int8 Conv1d for inference (FusedKernels::conv1d_int8;
// contract: tensor/fused_kernels.h; caller: tensor/conv1d.cpp's conv1d_forward_int8).
//
// Why taps instead of im2col: im2col copies every input row K times into a window matrix (in
// PyTorch's [C, K] order: a strided transpose) before one GEMM, and a window quantized as a row
// would quantize each input value K times. Here tap k is its own GEMM of the input rows by
// W[:, :, k]: no copy, each row quantized once, the same multiply-adds. Output row t takes tap k's
// product of input row t + k - P; each tap's int32 products are scaled to float and added into y.
// The GEMM splits a large product over threads itself (int8_linear.h).
#include <algorithm>
#include <vector>

#include "tensor/cpu/backend.h"
#include "tensor/cpu/int8_linear.h"

namespace loom::cpu {

void CpuBackend::conv1d_int8(const float* x, const Conv1dShape& s, const Int8Weights* taps,
                             const float* bias, float* y) {
  const int64_t O = taps[0].n, T_out = s.t_out();
  if (s.B == 0 || O == 0) return;
  // Reused between calls (grown, never shrunk): no allocation per call in the steady state (a
  // fresh 1-4 MB buffer per call costs page faults and zero-filling comparable to a tap's GEMM).
  thread_local std::vector<gemm::PackedU8S8B> packed;
  thread_local std::vector<uint8_t> q;
  thread_local std::vector<kernels::RowQuantParams> params;
  thread_local std::vector<int32_t> acc;
  q.resize(std::max(q.size(), static_cast<std::size_t>(s.T * s.C)));
  params.resize(std::max(params.size(), static_cast<std::size_t>(s.T)));
  acc.resize(std::max(acc.size(), static_cast<std::size_t>(s.T * O)));
  // A tap the caller packed once (pack_int8) is read as it is; any other is packed here, once per
  // call for every row of the batch.
  packed.resize(std::max(packed.size(), static_cast<std::size_t>(s.K)));
  std::vector<const gemm::PackedU8S8B*> panels(static_cast<std::size_t>(s.K));
  for (int64_t k = 0; k < s.K; ++k) {
    const auto i = static_cast<std::size_t>(k);
    if (taps[k].packed == nullptr) pack_weights(taps[k], packed[i]);
    panels[i] = taps[k].packed != nullptr ? static_cast<const gemm::PackedU8S8B*>(taps[k].packed)
                                          : &packed[i];
  }
  for (int64_t b = 0; b < s.B; ++b) {
    float* yb = y + b * T_out * O;
    for (int64_t t = 0; t < T_out; ++t)
      for (int64_t o = 0; o < O; ++o)
        yb[t * O + o] = bias != nullptr ? bias[o] : 0.0f;
    quantize_rows_u8(x + b * s.T * s.C, s.T, s.C, s.C, q.data(), params.data());
    for (int64_t k = 0; k < s.K; ++k) {
      // Input rows [first, last) are those whose output row t = row - k + P lies in [0, T_out);
      // the rest of the window is padding, which adds nothing.
      const int64_t first = std::max<int64_t>(0, k - s.P);
      const int64_t last = std::min<int64_t>(s.T, T_out + k - s.P);
      if (first >= last) continue;
      int8_product(q.data() + first * s.C, params.data() + first, last - first, taps[k],
                   panels[static_cast<std::size_t>(k)], nullptr, acc.data(),
                   yb + (first - k + s.P) * O, O, /*accumulate=*/true);
    }
  }
}

}  // namespace loom::cpu
