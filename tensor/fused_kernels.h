// tensor/fused_kernels.h: the Backend's optional extension: kernels that do in one pass what core
// ops would do in many (the LSTM and RNN recurrences, Adam, the loss scaler, mixed-precision GEMM).
//
// A backend offers them by returning itself from Backend::fused() (CPU: tensor/cpu/, CUDA:
// cuda/kernels/). Nothing outside tensor/ calls them: each has a Tensor-level op that checks
// shapes, dtypes and devices once, then makes one call here (tensor/lstm.h, tensor/adam.h,
// tensor/loss_scale.h, matmul_mixed in tensor/ops.h). So a backend checks only what it alone
// can, as in the core table (tensor/backend.h). All pointers are device pointers to dense
// row-major buffers unless a comment says HOST.
#pragma once

#include <cstdint>
#include <memory>

#include "tensor/backend.h"
#include "tensor/kernels/adam_update.h"        // AdamHyper
#include "tensor/kernels/loss_scale_update.h"  // AmpCounter, AmpScaleUpdate

namespace loom {

// ---- the LSTM recurrence: the sequential part of one layer, one direction ----------------------
// T steps of B rows x H units, gate order i, f, g, o (gate k of unit j is column k*H + j of a
// [B, 4H] row); the cell math is tensor/kernels/lstm_pointwise.h. Buffers are time-major and
// indexed by t in input order also when `reverse` (then the steps run t = T-1 .. 0). Two dtypes:
// `state` (float32 or float64) for the gates, c, tanh(c), h and every gradient, and `gemm`
// (== state, or float16 or bfloat16) for the recurrent GEMM's operands W_hh and h (mixed
// precision; the CUDA backend takes float16 only).
struct LstmRecurrence {
  int64_t T = 0, B = 0, H = 0;
  bool reverse = false;
  DType state = DType::Float32, gemm = DType::Float32;
  // A GPU may run the whole recurrence in one kernel (W_hh kept on chip) instead of a GEMM and a
  // pointwise launch per step; lstm_persistent_fits says whether it can. The CPU ignores it.
  bool persistent = false;
};

//   gates   [T, B, 4H] state  in: x_t W_ih^T + b_ih + b_hh;  out: the activated gates
//   w_hh    [4H, H] gemm;  h0 [B, H] gemm;  c0 [B, H] state
//   c, tanh_c, h [T, B, H] state  out: c_t, tanh(c_t), h_t of every step
//   h_mask  [B, H] state, may be null: recurrent dropout (Keras' recurrent_dropout): every step's
//           GEMM reads h_{t-1} * h_mask instead of h_{t-1} (h0 arrives already masked)
//   h_gemm  [T, B, H] gemm  out: the next step's GEMM operand, h_t (* h_mask) rounded to the gemm
//           dtype; may be null only when gemm == state and there is no mask (h is read instead)
//   c_n     [B, H] state  out, may be null: c after the last step
//   x, w_ih, bias, in: null (and 0) unless the backend projects the input itself
//           (lstm_projects_input): x [T, B, in] gemm, w_ih [4H, in] gemm, bias [4H] state (b_ih +
//           b_hh); then each step computes its own x_t W_ih^T + bias, and gates is out only
struct LstmForwardBuffers {
  void* gates = nullptr;
  const void* w_hh = nullptr;
  const void* h0 = nullptr;
  const void* c0 = nullptr;
  void* c = nullptr;
  void* tanh_c = nullptr;
  void* h = nullptr;
  void* h_gemm = nullptr;
  void* c_n = nullptr;
  const void* h_mask = nullptr;
  const void* x = nullptr;
  const void* w_ih = nullptr;
  const void* bias = nullptr;
  int64_t in = 0;
};

//   dh      [T, B, H] state  in: dL/dh_t from outside the recurrence (the output's gradient)
//   dc_n    [B, H] state  in, may be null (= zero): dL/dc_n
//   w_hh, c0, and act, c, tanh_c (what forward wrote in gates, c, tanh_c): saved
//   dgates  [T, B, 4H] state  out: dL/d(pre-activations) of every step
//   dgates_gemm [T, B, 4H] gemm out: dgates rounded to the gemm dtype (the GEMM operand of
//           dh_{t-1} = da_t W_hh); null when gemm == state
//   dh0, dc0 [B, H] state  out, each may be null
//   h_mask  [B, H] state, may be null: forward's mask; every recurrent gradient da_t W_hh (into
//           dh_{t-1} and dh0) is multiplied by it
struct LstmBackwardBuffers {
  const void* dh = nullptr;
  const void* dc_n = nullptr;
  const void* w_hh = nullptr;
  const void* c0 = nullptr;
  const void* act = nullptr;
  const void* c = nullptr;
  const void* tanh_c = nullptr;
  void* dgates = nullptr;
  void* dgates_gemm = nullptr;
  void* dh0 = nullptr;
  void* dc0 = nullptr;
  const void* h_mask = nullptr;
};

// ---- the tanh RNN recurrence: h_t = tanh((xb_t + h_{t-1} W_hh^T) + b_hh) ----------------------
// T steps of B rows x H units, time-major, forward in time only; `dtype` (float32 or float64) for
// every buffer. xb_t = x_t W_ih^T + b_ih arrives computed for all steps (tensor/rnn.cpp), so the
// backend runs only what is sequential. Every sum is formed in the order the composed RNN's
// autograd ops form it (nn/rnn_composed.cpp), so both give the same bits.
struct RnnRecurrence {
  int64_t T = 0, B = 0, H = 0;
  DType dtype = DType::Float64;
};
//   xb      [T, B, H]  in: x_t W_ih^T + b_ih of every step
//   b_hh    [H];  w_hh [H, H];  h0 [B, H]
//   h       [T, B, H]  out: h_t of every step
struct RnnForwardBuffers {
  const void* xb = nullptr;
  const void* b_hh = nullptr;
  const void* w_hh = nullptr;
  const void* h0 = nullptr;
  void* h = nullptr;
};
//   dh      [T, B, H]  in: dL/dh_t from outside the recurrence
//   w_hh, h: forward's
//   dpre    [T, B, H]  out: dL/d(pre-activation) of every step, dh_t (1 - h_t^2)
//   dh0     [B, H]     out, may be null: dpre_0 W_hh
struct RnnBackwardBuffers {
  const void* dh = nullptr;
  const void* w_hh = nullptr;
  const void* h = nullptr;
  void* dpre = nullptr;
  void* dh0 = nullptr;
};

// ---- Adam / AdamW over many parameters in one call (the Tensor op: tensor/adam.h) --------------
// Each entry holds device pointers: param, grad, exp_avg, exp_avg_sq are dense buffers of `numel`
// elements (no two overlap); `step` points to that parameter's step counter (one int64), kept on
// the device so that no host value of t is baked into a captured CUDA Graph: the call reads
// t = *step + 1, computes the bias corrections in double and stores t back.
struct AdamParam {
  void* param;
  const void* grad;
  void* exp_avg;
  void* exp_avg_sq;
  int64_t* step;
  int64_t numel;
};

// ---- Conv1d, stride 1, zero padding (the Tensor ops: tensor/conv1d.h) ------------------------
// Channels-last: x [B, T, C]; K taps; P zeros on each end; T_out = T + 2P - K + 1 (>= 1). The
// column matrix of im2col holds one row per output step, ordered as PyTorch's weight [O, C, K]
// flattens to [O, C*K]:  cols[b, t, c*K + k] = x[b, t + k - P, c]  (0 where that is outside).
struct Conv1dShape {
  int64_t B = 0, T = 0, C = 0, K = 0, P = 0;
  int64_t t_out() const { return T + 2 * P - K + 1; }
};

// ---- inference: int8 dynamic quantization and the LSTM without saved state -------------------
// (the Tensor ops: tensor/inference.h, tensor/quantize.h; the formulas:
// tensor/kernels/int8_quantize.h). HOST structs of device pointers.
//   values [n, k] int8 (symmetric per row), scales [n] float32, sums [n] int32 = the row sums of
//   values (for the zero-point correction: sum_k (q_x - z) q_w = sum_k q_x q_w - z * sums[n]).
struct Int8Weights {
  const int8_t* values = nullptr;
  const float* scales = nullptr;
  const int32_t* sums = nullptr;
  int64_t n = 0, k = 0;
  // values already in the backend's GEMM layout (from pack_int8, kept by the caller), or null:
  // the kernel packs them itself, each call.
  const void* packed = nullptr;
};

// One layer, one direction, eval mode: no dropout, nothing kept for backward. The input
// projections come from a table: step t of row b adds table[ids[b * T + t]] ([4H] float32:
// x W_ih^T + b_ih + b_hh folded per token id, or any precomputed gate row), each id in
// [0, table_rows). The recurrent GEMM reads w_hh [4H, H] float32, or, when w_hh_int8.values is
// set, int8 weights with h quantized per row each step. h0 = c0 = 0. Out: h_n, c_n [B, H].
struct LstmInference {
  int64_t T = 0, B = 0, H = 0;
  const float* table = nullptr;
  int64_t table_rows = 0;
  const int32_t* ids = nullptr;  // [B, T]
  const float* w_hh = nullptr;
  Int8Weights w_hh_int8;
  float* h_n = nullptr;
  float* c_n = nullptr;
};

class FusedKernels {
 public:
  virtual ~FusedKernels() = default;

  // The recurrence, forward and backward (tensor/lstm.cpp does the GEMMs around it).
  virtual void lstm_recurrence_forward(const LstmRecurrence& r, const LstmForwardBuffers& b) = 0;
  virtual void lstm_recurrence_backward(const LstmRecurrence& r, const LstmBackwardBuffers& b) = 0;
  // Whether `persistent` really runs one kernel for this recurrence on the current device.
  virtual bool lstm_persistent_fits(const LstmRecurrence& r) = 0;
  // Whether lstm_recurrence_forward takes x, w_ih and bias and projects each step's input itself,
  // just before that step's recurrent GEMM. The CPU does: its rows of the step are then in cache,
  // where a projection of all steps at once writes [T, B, 4H] to memory for every step to read
  // back (tensor/cpu/lstm.cpp). A GPU gets gates precomputed by one large GEMM, which fills it.
  virtual bool lstm_projects_input() { return false; }

  // The tanh RNN's recurrence (tensor/rnn.cpp does the GEMMs around it). A backend without one
  // inherits these bodies, which throw naming the backend (tensor/rnn.cpp).
  virtual void rnn_recurrence_forward(const RnnRecurrence& r, const RnnForwardBuffers& b);
  virtual void rnn_recurrence_backward(const RnnRecurrence& r, const RnnBackwardBuffers& b);

  // One Adam/AdamW update of `num` parameters of `dtype` (float32, float64); `params` is a HOST
  // array. found_inf: null, or one float32 on the device; when nonzero the call writes nothing
  // at all, step counters included (a step the loss scaler skips does not count).
  virtual void adam_step(const AdamParam* params, int num, DType dtype, const AdamHyper& hyper,
                         const float* found_inf) = 0;

  // Unscale + check, one pass over `num` gradient buffers: buffer i (grads[i]) holds counts[i]
  // elements of `dtype` (floating), multiplied in place by *inv_scale; if any is inf or NaN,
  // *found_inf = 1 (otherwise not written, so calls OR into one flag). grads and counts are HOST
  // arrays; inv_scale and found_inf one float32 each on the device.
  virtual void amp_unscale_and_check(void* const* grads, const int64_t* counts, int num,
                                     DType dtype, const float* inv_scale, float* found_inf) = 0;
  // After a step, as update_loss_scale_ (tensor/loss_scale.h) says; scale: one float32,
  // counters: int64 [kAmpNumCounters], found_inf: one float32.
  virtual void amp_update_scale(float* scale, int64_t* counters, const float* found_inf,
                                const AmpScaleUpdate& args) = 0;

  // C = alpha op(A) op(B) + beta C exactly as Backend::matmul, with A and B in `ab_dtype`
  // (float16; bfloat16 on the CPU) and C in `c_dtype` (float32): float32 accumulation, no
  // rounding of C to 16 bits.
  virtual void matmul_mixed(const void* a, const void* b, DType ab_dtype, void* c, DType c_dtype,
                            const MatmulArgs& args) = 0;

  // Conv1d's data movement, float32 or float64 (see Conv1dShape). im2col: x [B, T, C] -> cols
  // [B, T_out, C*K], every element written. col2im, its adjoint (the backward of im2col): dx
  // [B, T, C] = the sum of the cols entries that copied each x element (overwrites dx).
  virtual void conv1d_im2col(const void* x, void* cols, DType dtype, const Conv1dShape& s) = 0;
  virtual void conv1d_col2im(const void* cols, void* dx, DType dtype, const Conv1dShape& s) = 0;
  // The plain loop: y [B, T_out, O] = bias[o] + sum over c, k of x[b, t+k-P, c] w[o, c, k], with
  // w [O, C, K] and bias [O] (null: none). The reference the im2col path is tested against.
  virtual void conv1d_direct(const void* x, const void* w, const void* bias, void* y, DType dtype,
                             const Conv1dShape& s, int64_t out_channels) = 0;

  // y [m, n] float32 = (x quantized per row to uint8) x w^T, summed in int32, times the two
  // scales, + bias [n] (may be null). x [m, k] float32, finite. The default throws: a backend
  // without int8 kernels (CUDA, for now) names itself.
  virtual void linear_int8(const float* x, int64_t m, const Int8Weights& w, const float* bias,
                           float* y);
  // Conv1d inference with int8 weights: a convolution of K taps is K Linear layers on shifted
  // inputs, summed. x [B, T, C] float32 is quantized per time step (row) to uint8 once; taps[k]
  // is W[:, :, k] as int8 [O, C] per output channel (n = O, k = C); then
  //   y[b, t, o] = bias[o] + sum over k of (the dequantized row x[b, t + k - P]) . taps[k][o]
  // (rows outside [0, T) are the padding: zero). y [B, T_out, O]; bias may be null. No im2col:
  // each tap is one GEMM over all T rows. The default throws, like linear_int8's.
  virtual void conv1d_int8(const float* x, const Conv1dShape& s, const Int8Weights* taps,
                           const float* bias, float* y);
  // w's values in the layout this backend's int8 GEMM reads, for Int8Weights::packed: weights
  // that serve many calls are packed once instead of once per call. Null: the backend has no
  // such layout (the default), and callers leave `packed` null.
  virtual std::shared_ptr<const void> pack_int8(const Int8Weights& w);
  // The eval-mode recurrence above. The default throws, like linear_int8's.
  virtual void lstm_inference(const LstmInference& args);
};

}  // namespace loom
