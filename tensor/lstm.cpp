// tensor/lstm.cpp: the LSTM layer's Tensor ops (contract and math in tensor/lstm.h): the
// argument checks, the GEMMs over all steps, and one call each way into the backend's recurrence
// (tensor/fused_kernels.h; CPU: tensor/cpu/lstm.cpp, CUDA: cuda/kernels/lstm.cu).
//
// Every buffer is time-major ([T, B, ...]) so each step's slice is one contiguous block, and is
// indexed by t in input order also when `reverse`. The GEMMs run on raw buffers through the
// backend's matmul (or its mixed 16-bit x 16-bit -> float32 GEMM when gemm_dtype is float16 or
// bfloat16):
// several of them read a window of a buffer (the steps after the first), which a Tensor matmul
// would first copy.
#include "tensor/lstm.h"

#include "tensor/backend.h"
#include "tensor/fused_kernels.h"
#include "tensor/ops.h"

namespace loom {
namespace {

// Element `i` of a dense buffer.
void* at(const Tensor& t, int64_t i) {
  return static_cast<char*>(t.raw_data()) + static_cast<std::size_t>(i) * dtype_size(t.dtype());
}

// C (+)= op(A) op(B) with A and B in `ab` and C in `c_dtype` (tensor/backend.h's MatmulArgs):
// the backend's GEMM, or its mixed-precision one when the two dtypes differ.
void gemm(Device dev, DType ab, DType c_dtype, const void* a, const void* b, void* c,
          const MatmulArgs& args) {
  if (ab == c_dtype)
    backend_for(dev).matmul(a, b, c, c_dtype, args);
  else
    fused_kernels_for(dev, "LSTM").matmul_mixed(a, b, ab, c, c_dtype, args);
}

MatmulArgs gemm_args(int64_t m, int64_t n, int64_t k, bool ta, int64_t lda, bool tb, int64_t ldb,
                     int64_t ldc, double beta) {
  MatmulArgs g;
  g.m = m, g.n = n, g.k = k;
  g.trans_a = ta, g.trans_b = tb;
  g.lda = lda, g.ldb = ldb, g.ldc = ldc;
  g.beta = beta;
  return g;
}

// A dense copy of `t` in `dt` (t itself when it already is dense and of that dtype).
Tensor dense_as(const Tensor& t, DType dt) {
  const Tensor c = t.contiguous();
  return c.dtype() == dt ? c : c.to(dt);
}

// A batch_first input arrives as the transpose of a dense [B, T, in]: strides [in, T*in, 1].
bool is_batch_major(const Tensor& x) {
  const int64_t T = x.size(0), in = x.size(2);
  return !x.is_contiguous() && x.strides() == Shape{in, T * in, 1};
}

void check_forward_args(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih,
                        const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                        const LstmLayerArgs& args) {
  LOOM_CHECK(x.defined() && x.dim() == 3, "LSTM: x must be [T, B, in], got ",
             x.defined() ? shape_str(x.shape()) : "undefined");
  const int64_t T = x.size(0), B = x.size(1), in = x.size(2), H = w_hh.size(-1);
  LOOM_CHECK(T >= 1, "LSTM: the sequence is empty (input ", shape_str(x.shape()), ")");
  LOOM_CHECK(w_ih.shape() == Shape({4 * H, in}), "LSTM: weight_ih is ", shape_str(w_ih.shape()),
             ", expected ", shape_str({4 * H, in}));
  LOOM_CHECK(w_hh.shape() == Shape({4 * H, H}) && b_ih.shape() == Shape({4 * H}) &&
                 b_hh.shape() == Shape({4 * H}),
             "LSTM: weight_hh ", shape_str(w_hh.shape()), ", bias_ih ", shape_str(b_ih.shape()),
             ", bias_hh ", shape_str(b_hh.shape()), " do not fit hidden size ", H);
  LOOM_CHECK(h0.shape() == Shape({B, H}) && c0.shape() == Shape({B, H}), "LSTM: h0 ",
             shape_str(h0.shape()), " and c0 ", shape_str(c0.shape()), " must be ",
             shape_str({B, H}));
  const DType state = b_ih.dtype(), gemm_dt = args.gemm_dtype;
  LOOM_CHECK(state == DType::Float32 || state == DType::Float64,
             "LSTM: the biases (and so the state) must be float32 or float64, got ",
             dtype_name(state));
  const bool mixed = gemm_dt == DType::Float16 || gemm_dt == DType::BFloat16;
  LOOM_CHECK(gemm_dt == state || (mixed && state == DType::Float32),
             "LSTM: the GEMMs run in the state dtype or in float16 or bfloat16 with a float32 "
             "state, got ",
             dtype_name(gemm_dt), " with ", dtype_name(state));
  for (const Tensor* t : {&x, &h0, &c0, &w_ih, &w_hh, &b_hh}) {
    LOOM_CHECK(t->device() == x.device(), "LSTM: every argument must be on ", x.device().str(),
               ", got one on ", t->device().str());
    LOOM_CHECK(is_floating(t->dtype()), "LSTM: arguments must be floating point, got ",
               dtype_name(t->dtype()));
  }
  LOOM_CHECK(b_hh.dtype() == state, "LSTM: bias_hh is ", dtype_name(b_hh.dtype()), ", bias_ih is ",
             dtype_name(state));
  const Tensor& m = args.h_mask;
  LOOM_CHECK(!m.defined() ||
                 (m.shape() == Shape({B, H}) && m.dtype() == state && m.device() == x.device()),
             "LSTM: the recurrent dropout mask must be ", shape_str({B, H}), " ", dtype_name(state),
             " on ", x.device().str(), ", got ",
             m.defined() ? shape_str(m.shape()) + " " + dtype_name(m.dtype()) : std::string());
}

}  // namespace

LstmLayerForward lstm_layer_forward(const Tensor& x, const Tensor& h0, const Tensor& c0,
                                    const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                                    const Tensor& b_hh, const LstmLayerArgs& args) {
  check_forward_args(x, h0, c0, w_ih, w_hh, b_ih, b_hh, args);
  const int64_t T = x.size(0), B = x.size(1), in = x.size(2), H = w_hh.size(1);
  const DType state = b_ih.dtype(), gdt = args.gemm_dtype;
  const Device dev = x.device();
  const TensorOptions st(state, dev);
  LstmLayerForward out;
  LstmLayerSaved& s = out.saved;
  s.args = args;
  if (args.h_mask.defined()) s.args.h_mask = args.h_mask.contiguous();  // kept for backward
  s.x_batch_major = is_batch_major(x);
  // Time-major. A batch-major x is rounded first, where it lies, then moved: the transposing
  // copy then moves 16-bit values, not float32 ones.
  s.x = s.x_batch_major ? dense_as(x.transpose(0, 1), gdt).transpose(0, 1).contiguous()
                        : dense_as(x, gdt);
  const bool masked = args.h_mask.defined();
  // The first step's GEMM operand: h0, masked like every later h_{t-1} (recurrent dropout).
  s.h0 = dense_as(masked ? mul(dense_as(h0, state), s.args.h_mask) : h0, gdt);
  s.c0 = dense_as(c0, state);
  s.w_ih = dense_as(w_ih, gdt);
  s.w_hh = dense_as(w_hh, gdt);

  // 1. gates [T, B, 4H] = (b_ih + b_hh) in every row, then += x W_ih^T: in one GEMM for all
  // steps, or step by step inside the recurrence when the backend projects the input itself
  // (the CPU: lstm_projects_input in tensor/fused_kernels.h).
  FusedKernels& fused = fused_kernels_for(dev, "LSTM");
  const bool projects_input = fused.lstm_projects_input();
  const Tensor bias = add(b_ih, b_hh);  // [4H], dense
  if (projects_input) {
    s.act = empty({T, B, 4 * H}, st);
  } else {
    s.act = bias.expand({T, B, 4 * H}).contiguous();
    gemm(dev, gdt, state, s.x.raw_data(), s.w_ih.raw_data(), s.act.raw_data(),
         gemm_args(T * B, 4 * H, in, false, in, true, in, 4 * H, 1.0));
  }

  // 2. the recurrence writes the activations over the gates, every c, tanh(c) and h (into y's
  // first T rows), h's gemm-dtype copy when mixed, and c_n into y[T].
  out.y = empty({T + 1, B, H}, st);
  s.c = empty({T, B, H}, st);
  s.tanh_c = empty({T, B, H}, st);
  // The GEMMs' h: y's own rows, unless they must be rounded (mixed) or masked (dropout).
  const bool own_h = gdt != state || masked;
  s.h = own_h ? empty({T, B, H}, TensorOptions(gdt, dev)) : out.y.narrow(0, 0, T);
  LstmRecurrence r{T, B, H, args.reverse, state, gdt, args.persistent};
  LstmForwardBuffers f{s.act.raw_data(),     s.w_hh.raw_data(),
                       s.h0.raw_data(),      s.c0.raw_data(),
                       s.c.raw_data(),       s.tanh_c.raw_data(),
                       out.y.raw_data(),     own_h ? s.h.raw_data() : nullptr,
                       at(out.y, T * B * H), masked ? s.args.h_mask.raw_data() : nullptr};
  if (projects_input) {
    f.x = s.x.raw_data();
    f.w_ih = s.w_ih.raw_data();
    f.bias = bias.raw_data();
    f.in = in;
  }
  fused.lstm_recurrence_forward(r, f);
  return out;
}

namespace {

// dx = dA W_ih: [T*B, 4H] x [4H, in]. For a batch-major x, step t's rows go to rows b*T + t of
// a dense [B, T, in] (one batched GEMM, T matrices of [B, in] with ldc T*in).
Tensor input_grad(const Tensor& dA_g, const LstmLayerSaved& s, DType state) {
  const int64_t T = s.x.size(0), B = s.x.size(1), in = s.x.size(2), H4 = s.w_ih.size(0);
  const TensorOptions st(state, dA_g.device());
  const DType gdt = dA_g.dtype();
  if (!s.x_batch_major) {
    const Tensor dx = empty({T, B, in}, st);
    gemm(dA_g.device(), gdt, state, dA_g.raw_data(), s.w_ih.raw_data(), dx.raw_data(),
         gemm_args(T * B, in, H4, false, H4, false, in, in, 0.0));
    return dx;
  }
  const Tensor dx = empty({B, T, in}, st);
  MatmulArgs g = gemm_args(B, in, H4, false, H4, false, in, T * in, 0.0);
  g.batch = T, g.stride_a = B * H4, g.stride_b = 0, g.stride_c = in;
  gemm(dA_g.device(), gdt, state, dA_g.raw_data(), s.w_ih.raw_data(), dx.raw_data(), g);
  return dx.transpose(0, 1);  // [T, B, in] with x's strides
}

// dW_hh = sum_t dA_t^T h_{t-1}. The steps after the first read h_{t-1} from h, in the slot next
// to dA_t's (h[t-1] forward, h[t+1] reverse): one GEMM over those T-1 steps; the first step read
// h0, which lives elsewhere: a second, accumulating GEMM.
Tensor recurrent_weight_grad(const Tensor& dA_g, const LstmLayerSaved& s, DType state) {
  const int64_t T = s.x.size(0), B = s.x.size(1), H = s.h0.size(1);
  const bool rev = s.args.reverse;
  const Device dev = dA_g.device();
  const DType gdt = dA_g.dtype();
  const Tensor dW = empty({4 * H, H}, TensorOptions(state, dev));
  if (T > 1) {
    const int64_t a0 = rev ? 0 : 1, h0_row = rev ? 1 : 0;
    gemm(dev, gdt, state, at(dA_g, a0 * B * 4 * H), at(s.h, h0_row * B * H), dW.raw_data(),
         gemm_args(4 * H, H, (T - 1) * B, true, 4 * H, false, H, H, 0.0));
  }
  const int64_t first = rev ? T - 1 : 0;  // the step that read h0
  gemm(dev, gdt, state, at(dA_g, first * B * 4 * H), s.h0.raw_data(), dW.raw_data(),
       gemm_args(4 * H, H, B, true, 4 * H, false, H, H, T > 1 ? 1.0 : 0.0));
  return dW;
}

}  // namespace

LstmLayerGrads lstm_layer_backward(const Tensor& dy_in, const LstmLayerSaved& s,
                                   const LstmGradsWanted& want) {
  const int64_t T = s.x.size(0), B = s.x.size(1), in = s.x.size(2), H = s.h0.size(1);
  const DType state = s.c.dtype(), gdt = s.args.gemm_dtype;
  const Device dev = s.x.device();
  const TensorOptions st(state, dev);
  LOOM_CHECK(dy_in.shape() == Shape({T + 1, B, H}), "LSTM backward: the gradient of y must be ",
             shape_str({T + 1, B, H}), ", got ", shape_str(dy_in.shape()));
  const Tensor dy = dense_as(dy_in, state);

  // 1. the BPTT: dA [T, B, 4H] (and its gemm-dtype copy, the operand of every GEMM below).
  // Own buffers, not the saved gates overwritten, so a retain_graph backward can run twice.
  const Tensor dA = empty({T, B, 4 * H}, st);
  const Tensor dA_g = gdt == state ? dA : empty({T, B, 4 * H}, TensorOptions(gdt, dev));
  LstmLayerGrads g;
  if (want.h0) g.h0 = empty({B, H}, st);
  if (want.c0) g.c0 = empty({B, H}, st);
  const LstmRecurrence r{T, B, H, s.args.reverse, state, gdt, s.args.persistent};
  const LstmBackwardBuffers b{dy.raw_data(),
                              at(dy, T * B * H),
                              s.w_hh.raw_data(),
                              s.c0.raw_data(),
                              s.act.raw_data(),
                              s.c.raw_data(),
                              s.tanh_c.raw_data(),
                              dA.raw_data(),
                              gdt == state ? nullptr : dA_g.raw_data(),
                              want.h0 ? g.h0.raw_data() : nullptr,
                              want.c0 ? g.c0.raw_data() : nullptr,
                              s.args.h_mask.defined() ? s.args.h_mask.raw_data() : nullptr};
  fused_kernels_for(dev, "LSTM backward").lstm_recurrence_backward(r, b);

  // 2. the GEMMs over all steps.
  if (want.x) g.x = input_grad(dA_g, s, state);
  if (want.w_ih) {  // dW_ih = dA^T x: [4H, T*B] x [T*B, in]
    g.w_ih = empty({4 * H, in}, st);
    gemm(dev, gdt, state, dA_g.raw_data(), s.x.raw_data(), g.w_ih.raw_data(),
         gemm_args(4 * H, in, T * B, true, 4 * H, false, in, in, 0.0));
  }
  if (want.w_hh) g.w_hh = recurrent_weight_grad(dA_g, s, state);
  if (want.bias) {  // db = column sums of dA, as a GEMM ones [1, T*B] x dA [T*B, 4H] (a sum
    // reduction was ~4x slower at these sizes); from the state-dtype dA, never its rounding.
    // One row of output: one thread. dA^T x ones splits its 4H rows over threads, but it reads
    // the same 16 MB and was no faster (bench_lstm_step, 2 threads).
    const Tensor ones = full({1, T * B}, 1.0, st);
    g.bias = empty({4 * H}, st);
    gemm(dev, state, state, ones.raw_data(), dA.raw_data(), g.bias.raw_data(),
         gemm_args(1, 4 * H, T * B, false, T * B, false, 4 * H, 4 * H, 0.0));
  }
  return g;
}

bool lstm_persistent_available(DType dtype, int64_t hidden_size, Device device) {
  FusedKernels* f = backend_for(device).fused();
  const LstmRecurrence r{1, 1, hidden_size, false, dtype, dtype, true};
  return f != nullptr && f->lstm_persistent_fits(r);
}

}  // namespace loom
