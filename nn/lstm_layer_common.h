// nn/lstm_layer_common.h: what the fused and the persistent LSTM layers share (internal to nn/).
//
// The layers (nn/lstm_fused.cpp, nn/lstm_persistent.cpp, and fused's autocast twin
// nn/lstm_fused_amp.cpp) run one (layer, direction) on raw buffers through the Backend: the input
// projection for all T steps as one GEMM, a recurrence (per step on the host for fused, one
// backend call for persistent), and after the BPTT the same big GEMMs for dx, dW_ih, dW_hh and the
// bias sums. All three record one graph node whose output packs Y [T+1, B, H] (Y[t] = h_t,
// Y[T] = c_n; nn/lstm_fused.cpp's header). This header holds the pieces they share: a row-major
// GEMM on raw pointers (plain or mixed float16/float32), the CPU thread split by batch rows, typed
// byte offsets, a row broadcast, the batch_first copy, the argument checks, the dense inputs and
// the input projection, the node's recording and unpacking, and the backward GEMMs.
//
// Not a public header: only nn/lstm_*.cpp include it (nn/lstm.h is the LSTM's API).
// Leaves out: anything per timestep (each layer's own loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "autograd/node.h"
#include "nn/lstm.h"
#include "tensor/backend.h"
#include "tensor/tensor.h"

namespace loom::nn::detail {

// The element types of a GEMM: A and B in `ab`, C in `c`. One dtype (implicitly, from a DType)
// is a plain Backend::matmul; float16 A, B with float32 C is Backend::matmul_mixed (autocast).
struct GemmTypes {
  DType ab, c;
  constexpr GemmTypes(DType t) : ab(t), c(t) {}  // NOLINT(google-explicit-constructor): plain GEMM
  constexpr GemmTypes(DType ab_, DType c_) : ab(ab_), c(c_) {}
};

// C [m, n] = op(A) op(B) + beta * C, all row-major with the given leading dimensions
// (tensor/backend.h's MatmulArgs; beta == 0 does not read C).
void gemm(Backend& be, GemmTypes dt, const void* a, bool ta, int64_t lda, const void* b, bool tb,
          int64_t ldb, void* c, int64_t ldc, int64_t m, int64_t n, int64_t k, double beta);

// How many CPU threads (row slices) to split `rows` batch rows into for `work` multiply-adds in
// all; 1 on any other device (a GPU backend parallelises inside each call). See the .cpp.
int slices_for(Device device, int64_t rows, int64_t work);

// gemm() with the m output rows split into `slices` independent GEMMs, one per thread.
void gemm_split(int slices, Backend& be, GemmTypes dt, const void* a, bool ta, int64_t lda,
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

// The shape checks every layer does first: T >= 1, weight_ih [4H, in], weight_hh [4H, H],
// both biases [4H], h0 and c0 [B, H] (x [T, B, in]). `who` names the layer in the message.
void check_layer_shapes(const char* who, const Variable& x, const Variable& h0, const Variable& c0,
                        const LstmParams& p);
// h0, c0 and the parameters have x's dtype and device (the float32/float64 layers).
void check_layer_dtypes(const char* who, const Variable& x, const Variable& h0, const Variable& c0,
                        const LstmParams& p);

// The dense operands of the float32/float64 layers.
struct LayerInputs {
  bool batch_major;  // x arrived batch-major (is_batch_major): dx goes back with x's strides
  Tensor x;          // [T, B, in] dense, time-major
  Tensor h0, c0;     // [B, H]
  Tensor w_ih;       // [4H, in]
  Tensor w_hh;       // [4H, H]
};
LayerInputs dense_layer_inputs(Backend& be, const Variable& x, const Variable& h0,
                               const Variable& c0, const LstmParams& p);

// Step 1 of every forward: gates [T, B, 4H] (C's dtype) = (b_ih + b_hh) in every row, then
// += x W_ih^T in one GEMM [T*B, in] x [in, 4H] (x [T, B, in], w_ih [4H, in] in dt.ab).
Tensor input_projection(Backend& be, GemmTypes dt, const Tensor& x, const Tensor& w_ih,
                        const LstmParams& p, Device dev);

// The node's inputs in Input order, and which of them need a gradient.
std::vector<Variable> layer_node_inputs(const Variable& x, const Variable& h0, const Variable& c0,
                                        const LstmParams& p);
std::vector<bool> grads_needed(const std::vector<Variable>& inputs);
// out [T, B, H], h_n (the last step computed) and c_n [B, H] as autograd views of the packed
// output Y [T+1, B, H].
LstmLayerOutput unpack_layer_output(const Variable& packed, int64_t T, bool reverse);

// What the float32/float64 layers (fused and persistent) save for backward, and nothing else
// (docs/labs/04-lstm-bptt.md section 3): x (dW_ih), h0 and Y (the h_{t-1} of each step, for
// dW_hh), the two weights (dx, dh_{t-1}), the activated gates (every gate derivative is a function
// of the activation, so no exp/tanh in backward), every c (da^f needs c_{t-1}) and tanh(c_t) (da^o
// and dc). Not saved: the pre-activations (overwritten by the activations), f*c and i*g.
struct LayerSaved {
  Tensor x;       // [T, B, in]
  Tensor h0;      // [B, H]
  Tensor w_ih;    // [4H, in]
  Tensor w_hh;    // [4H, H]
  Tensor gates;   // [T, B, 4H]  activated gates i, f, g, o
  Tensor cs;      // [T+1, B, H] every c, c_0 in the slot the first step reads (0 fwd, T reverse)
  Tensor tanh_c;  // [T, B, H]
  Tensor Y;       // [T+1, B, H] the packed output: h_t at Y[t], c_n at Y[T]
};
// A layer's backward: dY [T+1, B, H] (the packed output's gradient) -> one gradient per Input.
using LayerBackward = std::vector<Tensor> (*)(const Tensor& dY, const LayerSaved& saved,
                                              bool reverse, bool batch_major,
                                              const std::vector<bool>& need);
// Records node `name` over (x, h0, c0, p) with `saved`, whose backward calls `backward`, and
// returns the unpacked output views.
LstmLayerOutput record_layer(const char* name, const Variable& x, const Variable& h0,
                             const Variable& c0, const LstmParams& p, const LayerSaved& saved,
                             bool reverse, bool batch_major, LayerBackward backward);

// The GEMMs after the BPTT loop, given dA [T, B, 4H] = dL/d(pre-activations) of every step in
// input order; fills grads[kX], grads[kWih], grads[kWhh], grads[kBih], grads[kBhh] (those with
// need[i]) and leaves grads[kH0], grads[kC0] alone (each layer's loop produces them):
//   dx    = dA W_ih                  [T*B, 4H] x [4H, in]  (batch_major: into a dense [B, T, in])
//   dW_ih = dA^T x                   [4H, T*B] x [T*B, in]
//   dW_hh = sum_t dA_t^T h_{t-1}     two GEMMs: steps reading h from Y, and the step reading h0
//   db    = column sums of dA_sum    (b_ih and b_hh get the same tensor)
// x [T, B, in] dense time-major, h0 [B, H], Y [>= T, B, H] (Y[t] = h_t), w_ih [4H, in]: all in
// dt.ab like dA; dA_sum is dA in dt.c (the same tensor for a plain GEMM; under autocast the
// float32 dA beside its float16 rounding). The gradients come out in dt.c.
// `slices`: the CPU row split (slices_for). grads must have kNumInputs entries.
void lstm_weight_grads(Backend& be, GemmTypes dt, const Tensor& dA, const Tensor& dA_sum,
                       const Tensor& x, const Tensor& h0, const Tensor& Y, const Tensor& w_ih,
                       bool reverse, bool batch_major, int slices, const std::vector<bool>& need,
                       std::vector<Tensor>& grads);

}  // namespace loom::nn::detail
