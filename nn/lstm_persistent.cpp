// nn/lstm_persistent.cpp: one LSTM layer, one direction, with the whole recurrence in ONE backend
// call forward and ONE backward (LstmImpl::Persistent).
//
// The same layer as nn/lstm_fused.cpp, with the sequential part moved into the backend:
//   forward:  1. gates [T, B, 4H] = x W_ih^T + (b_ih + b_hh): one GEMM for all T steps (as fused);
//             2. Backend::lstm_persistent_forward: every step's h_{t-1} W_hh^T and cell update in
//                one call (on a GPU one kernel launch: cuda/lstm_persistent.cu), writing the
//                activations over the gates, every c, tanh(c) and h.
//   backward: 1. Backend::lstm_persistent_backward: the BPTT loop in one call, giving dA [T, B,
//                4H] (dL/d pre-activations of every step), dh0 and dc0;
//             2. the big GEMMs over all steps for dx, dW_ih, dW_hh and the biases, shared with
//                fused (detail::lstm_weight_grads, nn/lstm_layer_common.cpp).
// On a GPU the fused layer issues ~2 launches per forward step and ~3 per backward step (200
// dependent GEMM and pointwise launches per 100-step layer forward); this one issues 1 for the
// recurrence each way. On the CPU both run the same loop (tensor/cpu/cpu_lstm_persistent.cpp).
//
// The node's packed output and what it saves are exactly fused's (see nn/lstm_fused.cpp's
// header): Y [T+1, B, H] with Y[t] = h_t and Y[T] = c_n; saved x, h0, w_ih, w_hh, the activated
// gates, every c (cs [T+1, B, H], c_0 in the slot the first step reads), tanh(c) and Y.
//
// Fallbacks, to the fused layer (same function, same gradients): when the backend cannot run the
// persistent recurrence for this dtype and hidden size (lstm_persistent_available: on CUDA, W_hh
// must fit in one thread block's shared memory: float32 up to H = 119 on an H100, float64 up to
// H = 84), and under autocast (the mixed-precision LSTM is the fused layer's job).
//
// Leaves out: float16 (float32/float64 only, checked), dropout (between layers, nn/lstm.cpp).
#include "autograd/autocast_state.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "nn/lstm.h"
#include "nn/lstm_layer_common.h"

namespace loom::nn {

using namespace detail;  // NOLINT(google-build-using-namespace): internal helpers of nn/

namespace {

// The BPTT through one backend call, then the weight GEMMs. dY [T+1, B, H] is the gradient of
// the packed output: dY[t] = dL/dh_t from outside the recurrence (h_n is a view of one Y[t], so
// its gradient is already in there), dY[T] = dL/dc_n.
std::vector<Tensor> persistent_backward(const Tensor& dY_in, const LayerSaved& s, bool reverse,
                                        bool batch_major, const std::vector<bool>& need) {
  const Tensor &x = s.x, &cs = s.cs;
  const int64_t T = x.size(0), B = x.size(1), in = x.size(2), H = s.w_hh.size(1);
  const DType dt = x.dtype();
  Backend& be = backend_for(x.device());
  const TensorOptions opt(dt, x.device());
  const Tensor dY = dY_in.contiguous();
  const int64_t BH = B * H;

  // dA: its own buffer, not the saved gates overwritten, so a retain_graph backward can run twice.
  const Tensor dA = empty({T, B, 4 * H}, opt);
  std::vector<Tensor> grads(kNumInputs);
  if (need[kH0]) grads[kH0] = empty({B, H}, opt);
  if (need[kC0]) grads[kC0] = empty({B, H}, opt);
  const Buf pY = buf(dY), pC = buf(cs);
  be.lstm_persistent_backward(dY.raw_data(), /*dh_n=*/nullptr, /*dc_n=*/pY.at(T * BH),
                              s.w_hh.raw_data(), s.gates.raw_data(), pC.at((reverse ? 0 : 1) * BH),
                              pC.at((reverse ? T : 0) * BH), s.tanh_c.raw_data(), dA.raw_data(),
                              need[kH0] ? grads[kH0].raw_data() : nullptr,
                              need[kC0] ? grads[kC0].raw_data() : nullptr, reverse, dt, T, B, H);

  const int slices = slices_for(x.device(), B, T * B * 4 * H * (H + in));
  lstm_weight_grads(be, dt, dA, dA, x, s.h0, s.Y, s.w_ih, reverse, batch_major, slices, need,
                    grads);
  return grads;
}

}  // namespace

bool lstm_persistent_available(DType dtype, int64_t hidden_size, Device device) {
  return backend_for(device).lstm_persistent_fits(dtype, hidden_size);
}

LstmLayerOutput lstm_layer_persistent(const Variable& xv, const Variable& h0v, const Variable& c0v,
                                      const LstmParams& p, bool reverse) {
  const DType dt = xv.dtype();
  const int64_t T = xv.size(0), B = xv.size(1), H = p.w_hh.size(1);
  // The fallbacks (file header); lstm_layer_fused also does every argument check for them.
  if (autocast::is_enabled() || !lstm_persistent_available(dt, H, xv.device()))
    return lstm_layer_fused(xv, h0v, c0v, p, reverse);
  check_layer_shapes("LSTM (persistent)", xv, h0v, c0v, p);
  check_layer_dtypes("LSTM (persistent)", xv, h0v, c0v, p);
  Backend& be = backend_for(xv.device());
  const TensorOptions opt(dt, xv.device());
  const LayerInputs in = dense_layer_inputs(be, xv, h0v, c0v, p);  // x [T, B, in] time-major

  // 1. gates [T, B, 4H] = (b_ih + b_hh) in every row, then += x W_ih^T in one GEMM.
  const Tensor gates = input_projection(be, dt, in.x, in.w_ih, p, xv.device());

  // 2. the recurrence, one call. cs [T+1, B, H]: c_0 in the slot the first step reads (0
  // forward, T reverse) and c_t of step t in the slot after it (t+1 forward, t reverse), so the
  // backend's c [T, B, H] (indexed by t) is cs from slot 1 forward, from slot 0 reverse.
  const Tensor cs = empty({T + 1, B, H}, opt);
  const Tensor tanh_c = empty({T, B, H}, opt);
  const Tensor Y = empty({T + 1, B, H}, opt);  // h_t at Y[t]; c_n at Y[T]
  const Buf pC = buf(cs), pY = buf(Y);
  const int64_t BH = B * H;
  const std::size_t bh_bytes = static_cast<std::size_t>(BH) * dtype_size(dt);
  be.copy_device_to_device(pC.at((reverse ? T : 0) * BH), in.c0.raw_data(), bh_bytes, xv.device());
  be.lstm_persistent_forward(gates.raw_data(), in.w_hh.raw_data(), in.h0.raw_data(),
                             pC.at((reverse ? T : 0) * BH), /*act=*/gates.raw_data(),
                             pC.at((reverse ? 0 : 1) * BH), tanh_c.raw_data(), /*h=*/Y.raw_data(),
                             /*h_n=*/nullptr, /*c_n=*/pY.at(T * BH), reverse, dt, T, B, H);

  return record_layer("LstmPersistentBackward", xv, h0v, c0v, p,
                      {in.x, in.h0, in.w_ih, in.w_hh, gates, cs, tanh_c, Y}, reverse,
                      in.batch_major, persistent_backward);
}

}  // namespace loom::nn
