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
std::vector<Tensor> persistent_backward(const Tensor& dY_in, const SavedTensors& s, bool reverse,
                                        bool batch_major, const std::vector<bool>& need) {
  const Tensor& x = s["x"];            // [T, B, in]   for dW_ih
  const Tensor& h0 = s["h0"];          // [B, H]       for dW_hh (the first step's h_{t-1})
  const Tensor& w_ih = s["w_ih"];      // [4H, in]     for dx
  const Tensor& w_hh = s["w_hh"];      // [4H, H]      for dh_{t-1}, inside the backend call
  const Tensor& act = s["gates"];      // [T, B, 4H]   activated gates
  const Tensor& cs = s["c"];           // [T+1, B, H]  c_0 at slot 0 (forward) or T (reverse)
  const Tensor& tanh_c = s["tanh_c"];  // [T, B, H]
  const Tensor& Y = s["y"];            // [T+1, B, H]  h_t at Y[t]
  const int64_t T = x.size(0), B = x.size(1), in = x.size(2), H = w_hh.size(1);
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
                              w_hh.raw_data(), act.raw_data(), pC.at((reverse ? 0 : 1) * BH),
                              pC.at((reverse ? T : 0) * BH), tanh_c.raw_data(), dA.raw_data(),
                              need[kH0] ? grads[kH0].raw_data() : nullptr,
                              need[kC0] ? grads[kC0].raw_data() : nullptr, reverse, dt, T, B, H);

  const int slices = slices_for(x.device(), B, T * B * 4 * H * (H + in));
  lstm_weight_grads(be, dA, x, h0, Y, w_ih, reverse, batch_major, slices, need, grads);
  return grads;
}

}  // namespace

bool lstm_persistent_available(DType dtype, int64_t hidden_size, Device device) {
  return backend_for(device).lstm_persistent_fits(dtype, hidden_size);
}

LstmLayerOutput lstm_layer_persistent(const Variable& xv, const Variable& h0v, const Variable& c0v,
                                      const LstmParams& p, bool reverse) {
  const DType dt = xv.dtype();
  const int64_t T = xv.size(0), B = xv.size(1), in = xv.size(2), H = p.w_hh.size(1);
  // The fallbacks (file header); lstm_layer_fused also does every argument check for them.
  if (autocast::is_enabled() || !lstm_persistent_available(dt, H, xv.device()))
    return lstm_layer_fused(xv, h0v, c0v, p, reverse);
  LOOM_CHECK(T >= 1, "LSTM (persistent): the sequence is empty (input ", shape_str(xv.shape()),
             ")");
  LOOM_CHECK(p.w_ih.shape() == Shape({4 * H, in}), "LSTM (persistent): weight_ih is ",
             shape_str(p.w_ih.shape()), ", expected ", shape_str({4 * H, in}));
  LOOM_CHECK(p.w_hh.shape() == Shape({4 * H, H}) && p.b_ih.shape() == Shape({4 * H}) &&
                 p.b_hh.shape() == Shape({4 * H}),
             "LSTM (persistent): weight_hh ", shape_str(p.w_hh.shape()), ", bias_ih ",
             shape_str(p.b_ih.shape()), ", bias_hh ", shape_str(p.b_hh.shape()),
             " do not fit hidden size ", H);
  LOOM_CHECK(h0v.shape() == Shape({B, H}) && c0v.shape() == Shape({B, H}), "LSTM (persistent): h0 ",
             shape_str(h0v.shape()), " and c0 ", shape_str(c0v.shape()), " must be ",
             shape_str({B, H}));
  for (const Variable* v : {&h0v, &c0v, &p.w_ih, &p.w_hh, &p.b_ih, &p.b_hh}) {
    LOOM_CHECK(v->dtype() == dt && v->device() == xv.device(), "LSTM (persistent): parameters ",
               "and states must have the input's dtype and device (", dtype_name(dt), ", ",
               xv.device().str(), "), got ", dtype_name(v->dtype()), " on ", v->device().str());
  }
  Backend& be = backend_for(xv.device());
  const TensorOptions opt(dt, xv.device());
  const bool batch_major = is_batch_major(xv.data());
  const Tensor x =
      batch_major ? time_major_copy(be, xv.data()) : xv.data().contiguous();  // [T, B, in]
  const Tensor h0 = h0v.data().contiguous(), c0 = c0v.data().contiguous();    // [B, H]
  const Tensor w_ih = p.w_ih.data().contiguous(), w_hh = p.w_hh.data().contiguous();

  // 1. gates [T, B, 4H] = (b_ih + b_hh) in every row, then += x W_ih^T in one GEMM.
  const Tensor gates = empty({T, B, 4 * H}, opt);
  fill_rows(be, gates, add(p.b_ih.data(), p.b_hh.data()), xv.device());
  gemm_split(slices_for(xv.device(), T * B, T * B * 4 * H * in), be, dt, x.raw_data(), false, in,
             w_ih.raw_data(), true, in, gates.raw_data(), 4 * H, T * B, 4 * H, in, 1.0);

  // 2. the recurrence, one call. cs [T+1, B, H]: c_0 in the slot the first step reads (0
  // forward, T reverse) and c_t of step t in the slot after it (t+1 forward, t reverse), so the
  // backend's c [T, B, H] (indexed by t) is cs from slot 1 forward, from slot 0 reverse.
  const Tensor cs = empty({T + 1, B, H}, opt);
  const Tensor tanh_c = empty({T, B, H}, opt);
  const Tensor Y = empty({T + 1, B, H}, opt);  // h_t at Y[t]; c_n at Y[T]
  const Buf pC = buf(cs), pY = buf(Y);
  const int64_t BH = B * H;
  const std::size_t bh_bytes = static_cast<std::size_t>(BH) * dtype_size(dt);
  be.copy_device_to_device(pC.at((reverse ? T : 0) * BH), c0.raw_data(), bh_bytes, xv.device());
  be.lstm_persistent_forward(gates.raw_data(), w_hh.raw_data(), h0.raw_data(),
                             pC.at((reverse ? T : 0) * BH), /*act=*/gates.raw_data(),
                             pC.at((reverse ? 0 : 1) * BH), tanh_c.raw_data(), /*h=*/Y.raw_data(),
                             /*h_n=*/nullptr, /*c_n=*/pY.at(T * BH), reverse, dt, T, B, H);

  const std::vector<Variable> inputs{xv, h0v, c0v, p.w_ih, p.w_hh, p.b_ih, p.b_hh};
  std::vector<bool> need;
  for (const Variable& v : inputs)
    need.push_back(v.requires_grad());
  const Variable packed =
      record("LstmPersistentBackward", Y, inputs,
             {{"x", x},
              {"h0", h0},
              {"w_ih", w_ih},
              {"w_hh", w_hh},
              {"gates", gates},
              {"c", cs},
              {"tanh_c", tanh_c},
              {"y", Y}},
             [reverse, batch_major, need](const Tensor& g, const SavedTensors& s) {
               return persistent_backward(g, s, reverse, batch_major, need);
             });
  return {narrow(packed, 0, 0, T), select(packed, 0, reverse ? 0 : T - 1), select(packed, 0, T)};
}

}  // namespace loom::nn
