// nn/lstm_layer_common.h: what the fused and the persistent LSTM layers share (internal to nn/).
//
// Both layers (nn/lstm_fused.cpp, nn/lstm_persistent.cpp) run one (layer, direction) on raw
// buffers through the Backend: the input projection for all T steps as one GEMM, a recurrence
// (per step on the host for fused, one backend call for persistent), and after the BPTT the
// same big GEMMs for dx, dW_ih, dW_hh and the bias sums. This header holds the pieces they
// share: a row-major GEMM on raw pointers, the CPU thread split by batch rows, typed byte
// offsets, a row broadcast, the batch_first copy, and those backward GEMMs.
//
// Not a public header: only nn/lstm_*.cpp include it (nn/lstm.h is the LSTM's API).
// Leaves out: anything per timestep (each layer's own loop) and float16 (fused's autocast path
// does its own mixed GEMMs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tensor/backend.h"
#include "tensor/tensor.h"

namespace loom::nn::detail {

// C [m, n] = op(A) op(B) + beta * C, all row-major with the given leading dimensions
// (tensor/backend.h's MatmulArgs; beta == 0 does not read C).
void gemm(Backend& be, DType dt, const void* a, bool ta, int64_t lda, const void* b, bool tb,
          int64_t ldb, void* c, int64_t ldc, int64_t m, int64_t n, int64_t k, double beta);

// How many CPU threads (row slices) to split `rows` batch rows into for `work` multiply-adds in
// all; 1 on any other device (a GPU backend parallelises inside each call). See the .cpp.
int slices_for(Device device, int64_t rows, int64_t work);

// gemm() with the m output rows split into `slices` independent GEMMs, one per thread.
void gemm_split(int slices, Backend& be, DType dt, const void* a, bool ta, int64_t lda,
                const void* b, bool tb, int64_t ldb, void* c, int64_t ldc, int64_t m, int64_t n,
                int64_t k, double beta);

// Typed byte offsets into a raw buffer: at(i) is element i of a buffer of `esize`-byte elements.
struct Buf {
  char* base;
  std::size_t esize;
  void* at(int64_t i) const { return base + static_cast<std::size_t>(i) * esize; }
};
inline Buf buf(const Tensor& t) {
  return {static_cast<char*>(t.raw_data()), dtype_size(t.dtype())};
}

// Writes the row `row` [n] into every row of the dense `dst` [..., n] (log2(rows) device copies).
void fill_rows(Backend& be, const Tensor& dst, const Tensor& row, Device dev);

// batch_first input arrives as the transpose of a dense [B, T, in] tensor (strides [in, T*in,
// 1]); on the CPU the layers copy it time-major row by row and write dx back batch-major.
bool is_batch_major(const Tensor& x);
// x [T, B, in] (batch-major strides, see above) -> a dense time-major copy [T, B, in].
Tensor time_major_copy(Backend& be, const Tensor& x);

// The layer node's inputs, in record() order: which of them need a gradient.
enum Input { kX, kH0, kC0, kWih, kWhh, kBih, kBhh, kNumInputs };

// The GEMMs after the BPTT loop, given dA [T, B, 4H] = dL/d(pre-activations) of every step in
// input order; fills grads[kX], grads[kWih], grads[kWhh], grads[kBih], grads[kBhh] (those with
// need[i]) and leaves grads[kH0], grads[kC0] alone (each layer's loop produces them):
//   dx    = dA W_ih                  [T*B, 4H] x [4H, in]  (batch_major: into a dense [B, T, in])
//   dW_ih = dA^T x                   [4H, T*B] x [T*B, in]
//   dW_hh = sum_t dA_t^T h_{t-1}     two GEMMs: steps reading h from Y, and the step reading h0
//   db    = column sums of dA        (b_ih and b_hh get the same tensor)
// x [T, B, in] dense time-major, h0 [B, H], Y [T+1, B, H] (Y[t] = h_t), w_ih [4H, in].
// `slices`: the CPU row split (slices_for). grads must have kNumInputs entries.
void lstm_weight_grads(Backend& be, const Tensor& dA, const Tensor& x, const Tensor& h0,
                       const Tensor& Y, const Tensor& w_ih, bool reverse, bool batch_major,
                       int slices, const std::vector<bool>& need, std::vector<Tensor>& grads);

}  // namespace loom::nn::detail
