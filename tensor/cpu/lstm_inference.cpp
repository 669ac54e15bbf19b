// tensor/cpu/lstm_inference.cpp: the CPU's eval-mode LSTM recurrence (FusedKernels::lstm_inference;
// contract: tensor/fused_kernels.h; caller: tensor/inference.cpp).
//
// The training loop (lstm.cpp) keeps every step's gates, c, tanh(c) and h for backward; this one
// keeps only the state it carries: per thread one [rows, 4H] gate buffer, h and c [rows, H], and
// for int8 the quantized h and the int32 sums, all reused from call to call. Each step copies its
// rows' input projections from the table (the embedding and W_ih folded: a lookup instead of a
// GEMM), adds h_{t-1} W_hh^T (float32 on Eigen, or int8 on the u8 x s8 GEMM with W_hh packed
// once per call), and runs the same cell as training (tensor/cpu/lstm_cell.h). Batch rows are
// split over threads as in lstm.cpp (rows never interact). Compiled with -ffast-math like lstm.cpp,
// for the same reason (vectorised expf/tanhf).
#include <algorithm>
#include <cstring>
#include <vector>

#include "tensor/cpu/backend.h"
#include "tensor/cpu/int8_linear.h"
#include "tensor/cpu/lstm_cell.h"
#include "tensor/cpu/threads.h"

namespace loom::cpu {
namespace {

// This thread's buffers, grown to the largest call seen and kept.
struct StepScratch {
  std::vector<float> gates, h, c, tanh_c;  // tanh_c: written by the shared cell code, unused
  std::vector<uint8_t> q;
  std::vector<kernels::RowQuantParams> params;
  std::vector<int32_t> acc;
  gemm::PackedU8S8B w_hh;  // int8: W_hh packed once per call, read by every step

  void reserve(int64_t rows, int64_t H, bool int8) {
    auto grow = [](auto& v, int64_t n) {
      if (v.size() < static_cast<std::size_t>(n)) v.resize(static_cast<std::size_t>(n));
    };
    grow(gates, rows * 4 * H);
    grow(h, rows * H);
    grow(c, rows * H);
    grow(tanh_c, rows * H);
    if (int8) {
      grow(q, rows * H);
      grow(params, rows);
      grow(acc, rows * 4 * H);
    }
  }
};

// gates [rows, 4H] += h [rows, H] W_hh^T, in float32 or int8.
void add_recurrent(CpuBackend& be, const LstmInference& a, StepScratch& s, int64_t rows) {
  const int64_t H = a.H;
  if (a.w_hh_int8.values != nullptr) {
    quantize_rows_u8(s.h.data(), rows, H, H, s.q.data(), s.params.data());
    int8_product(s.q.data(), s.params.data(), rows, a.w_hh_int8, &s.w_hh, nullptr, s.acc.data(),
                 s.gates.data(), 4 * H, /*accumulate=*/true);
    return;
  }
  MatmulArgs g;
  g.m = rows, g.n = 4 * H, g.k = H;
  g.trans_b = true;
  g.lda = H, g.ldb = H, g.ldc = 4 * H;
  g.beta = 1.0;
  be.matmul(s.h.data(), a.w_hh, s.gates.data(), DType::Float32, g);
}

// The time loop for batch rows [b0, b0 + rows).
void run_rows(CpuBackend& be, const LstmInference& a, int64_t b0, int64_t rows) {
  thread_local StepScratch s;
  const int64_t H = a.H;
  s.reserve(rows, H, a.w_hh_int8.values != nullptr);
  if (a.w_hh_int8.values != nullptr) pack_weights(a.w_hh_int8, s.w_hh);
  std::fill_n(s.h.begin(), rows * H, 0.0f);
  std::fill_n(s.c.begin(), rows * H, 0.0f);
  for (int64_t t = 0; t < a.T; ++t) {
    for (int64_t r = 0; r < rows; ++r) {  // the input projection: one table row per token
      const int32_t id = a.ids[(b0 + r) * a.T + t];
      std::memcpy(s.gates.data() + r * 4 * H, a.table + id * 4 * H, 4 * H * sizeof(float));
    }
    if (t > 0) add_recurrent(be, a, s, rows);  // h_0 = 0 adds nothing
    // the cell, in place: activations over the gates, c over c_prev
    lstm_cell_rows<float>(s.gates.data(), rows, H, s.c.data(), s.c.data(), s.tanh_c.data(),
                          s.h.data());
  }
  std::memcpy(a.h_n + b0 * H, s.h.data(), rows * H * sizeof(float));
  std::memcpy(a.c_n + b0 * H, s.c.data(), rows * H * sizeof(float));
}

}  // namespace

void CpuBackend::lstm_inference(const LstmInference& a) {
  if (a.B == 0 || a.H == 0) return;
  for_each_row_slice(a.B, a.T * a.B * 4 * a.H * a.H,
                     [&](int64_t b0, int64_t rows) { run_rows(*this, a, b0, rows); });
}

}  // namespace loom::cpu
