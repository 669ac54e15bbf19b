// nn/lstm_fused.cpp: one LSTM layer, one direction, as ONE graph node with a hand-written BPTT.
//
// Forward (lstm_layer_fused), for x [T, B, in], hidden size H, time-major so that each step's
// slice of every buffer is one contiguous block:
//   1. gates = x W_ih^T + (b_ih + b_hh) for all T steps at once: one GEMM [T*B, in] x [in, 4H]
//      (the input projection does not depend on h, so it leaves the sequential loop);
//   2. per step: gates[t] += h_{t-1} W_hh^T (one GEMM [B, H] x [H, 4H], accumulating), then one
//      fused pointwise update (Backend::lstm_pointwise_forward, tensor/kernels/lstm_pointwise.h)
//      that turns gates[t] into activations in place and writes c_t, tanh(c_t), h_t.
// Backward (fused_backward), the BPTT of docs/labs/04-lstm-bptt.md section 2: per step (last to
// first) one pointwise backward and one GEMM for dh_{t-1}; after the loop one GEMM each for
// dx, dW_ih and dW_hh (two for dW_hh, see there) over all timesteps, and one column sum for the
// biases.
//
// A graph node has one output, so the node's output packs everything a caller can use:
//   Y [T+1, B, H]: Y[t] = h_t for t < T (in input order, also for reverse), Y[T] = c_n.
// out, h_n and c_n are views of Y taken with autograd ops (narrow/select), whose backward
// writes each one's gradient into its slot of dY: the node receives dY and reads the three
// gradients from it.
//
// The GEMMs and the pointwise calls go through the Backend on raw buffers (no Tensor op, no
// allocation per timestep), so the same code runs on any backend that implements
// lstm_pointwise_forward/backward (tensor/backend.h).
//
// Threads (CPU): the batch is split into one row range per thread, and each thread runs the whole
// time loop on its rows with no synchronisation between steps (see slices_for below).
//
// Leaves out: float16 (float32/float64 only, checked), and dropout (between layers, in
// nn/lstm.cpp).
#include <algorithm>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "nn/lstm.h"
#include "tensor/cpu/threads.h"

namespace loom::nn {
namespace {

// C [m, n] = alpha * op(A) op(B) + beta * C, all row-major with the given leading dimensions.
void gemm(Backend& be, DType dt, const void* a, bool ta, int64_t lda, const void* b, bool tb,
          int64_t ldb, void* c, int64_t ldc, int64_t m, int64_t n, int64_t k, double beta) {
  MatmulArgs g;
  g.m = m, g.n = n, g.k = k;
  g.trans_a = ta, g.trans_b = tb;
  g.lda = lda, g.ldb = ldb, g.ldc = ldc;
  g.beta = beta;
  be.matmul(a, b, c, dt, g);
}

// Threads. An LSTM's batch rows never interact: row b of h_t depends only on row b of h_{t-1}.
// So on the CPU the sequential loops split the batch into `slices` row ranges, one per thread,
// each running its own whole time loop (its recurrent GEMMs on its rows, its pointwise updates)
// with no synchronisation between steps; and the big GEMMs split their output rows the same way.
// Every GEMM is then single-threaded (Eigen does not nest inside an OpenMP region). Splitting
// each small per-step GEMM across threads instead costs two thread handoffs per step, 400 per
// training step, and under load (other processes on the cores) a handoff can wait a whole
// scheduler slice: 2 threads were 10x slower than 1 that way (docs/results/lstm-step-cpu.md).
// Slices for `rows` rows of `work` multiply-adds in all: at least ~1M multiply-adds (a few
// hundred microseconds) per thread, or the thread start-up costs more than it saves (tiny test
// sizes ran 20x slower split in two on a busy machine).
int slices_for(Device device, int64_t rows, int64_t work) {
  if (!device.is_cpu()) return 1;  // a GPU backend parallelises inside each call
  const int64_t by_work = std::max<int64_t>(1, work / (int64_t(1) << 20));
  return static_cast<int>(std::min<int64_t>({get_num_threads(), rows, by_work}));
}

// gemm() with the m output rows split into `slices` independent GEMMs, one per thread.
void gemm_split(int slices, Backend& be, DType dt, const void* a, bool ta, int64_t lda,
                const void* b, bool tb, int64_t ldb, void* c, int64_t ldc, int64_t m, int64_t n,
                int64_t k, double beta) {
  const std::size_t es = dtype_size(dt);
#pragma omp parallel for num_threads(slices) schedule(static, 1)
  for (int s = 0; s < slices; ++s) {
    const int64_t m0 = m * s / slices, m1 = m * (s + 1) / slices;
    // Row m0 of op(A): row m0 of A, or column m0 of the stored (transposed) A.
    const char* a0 = static_cast<const char*>(a) + (ta ? m0 : m0 * lda) * es;
    char* c0 = static_cast<char*>(c) + m0 * ldc * es;
    gemm(be, dt, a0, ta, lda, b, tb, ldb, c0, ldc, m1 - m0, n, k, beta);
  }
}

// Typed byte offsets into a raw buffer: at(p, i) is element i of a buffer of `dt`.
struct Buf {
  char* base;
  std::size_t esize;
  void* at(int64_t i) const { return base + static_cast<std::size_t>(i) * esize; }
};
Buf buf(const Tensor& t) {
  return {static_cast<char*>(t.raw_data()), dtype_size(t.dtype())};
}

// Writes the row `row` [n] into every row of the dense `dst` [..., n] by doubling copies (row 0,
// then rows 0..1 into 2..3, 0..3 into 4..7, ...): log2(rows) device memcpys. A broadcast through
// expand().contiguous() goes through the generic strided copy, which cost ~20 ms here (a fifth of
// the whole step) for the IMDB sizes; this is a plain memcpy's worth of bandwidth.
void fill_rows(Backend& be, const Tensor& dst, const Tensor& row, Device dev) {
  const int64_t n = row.numel(), rows = dst.numel() / n;
  const std::size_t row_bytes = static_cast<std::size_t>(n) * dtype_size(dst.dtype());
  char* d = static_cast<char*>(dst.raw_data());
  be.copy_device_to_device(d, row.contiguous().raw_data(), row_bytes, dev);
  for (int64_t done = 1; done < rows;) {
    const int64_t k = std::min(done, rows - done);
    be.copy_device_to_device(d + done * row_bytes, d, k * row_bytes, dev);
    done += k;
  }
}

// batch_first input arrives as the transpose of a dense [B, T, in] tensor: strides [in, T*in, 1].
// On the CPU the time-major copy is then T*B row memcpys (each row of `in` elements is
// contiguous), and dx is written straight into a dense [B, T, in] buffer, so neither the copy
// here nor the embedding's backward goes through the generic strided copy (5-10 ms each per
// step at the IMDB sizes). Elsewhere: contiguous() and a time-major dx.
bool is_batch_major(const Tensor& x) {
  const int64_t T = x.size(0), in = x.size(2);
  return x.device().is_cpu() && !x.is_contiguous() && x.strides() == Shape{in, T * in, 1};
}
Tensor time_major_copy(Backend& be, const Tensor& x) {
  const int64_t T = x.size(0), B = x.size(1), in = x.size(2);
  const Tensor out = empty({T, B, in}, TensorOptions(x.dtype(), x.device()));
  const Buf src = buf(x), dst = buf(out);
  const std::size_t row_bytes = static_cast<std::size_t>(in) * dtype_size(x.dtype());
  for (int64_t t = 0; t < T; ++t)
    for (int64_t b = 0; b < B; ++b)
      be.copy_device_to_device(dst.at((t * B + b) * in), src.at((b * T + t) * in), row_bytes,
                               x.device());
  return out;
}

// Which inputs of the node need a gradient: x, h0, c0, w_ih, w_hh, b_ih, b_hh.
enum Input { kX, kH0, kC0, kWih, kWhh, kBih, kBhh, kNumInputs };

// The BPTT. dY [T+1, B, H] is the gradient of the packed output; see the file header.
// batch_major: x came in as is_batch_major (then dx is returned with the same strides).
std::vector<Tensor> fused_backward(const Tensor& dY_in, const SavedTensors& s, bool reverse,
                                   bool batch_major, const std::vector<bool>& need) {
  const Tensor& x = s["x"];            // [T, B, in]   for dW_ih
  const Tensor& h0 = s["h0"];          // [B, H]       h_{-1} of the first step, for dW_hh
  const Tensor& w_ih = s["w_ih"];      // [4H, in]     for dx
  const Tensor& w_hh = s["w_hh"];      // [4H, H]      for dh_{t-1}
  const Tensor& act = s["gates"];      // [T, B, 4H]   activated gates i, f, g, o
  const Tensor& cs = s["c"];           // [T+1, B, H]  every c, c_0 included (see forward)
  const Tensor& tanh_c = s["tanh_c"];  // [T, B, H]
  const Tensor& Y = s["y"];            // [T+1, B, H]  h_t at Y[t]: the h_{t-1} of the next step
  const int64_t T = x.size(0), B = x.size(1), in = x.size(2), H = w_hh.size(1);
  const DType dt = x.dtype();
  Backend& be = backend_for(x.device());
  const TensorOptions opt(dt, x.device());
  const Tensor dY = dY_in.contiguous();

  // dA [T, B, 4H]: dL/d(pre-activations) of every step, in input order. Its own buffer, not the
  // saved gates overwritten in place, so a retain_graph backward can run twice.
  const Tensor dA = empty({T, B, 4 * H}, opt);
  const Tensor dh = empty({B, H}, opt);       // dL/dh_t, all paths (scratch, one step)
  const Tensor dc = dY.select(0, T).clone();  // dL/dc_t from step t+1; starts as dL/dc_n
  const Buf pY = buf(dY), pA = buf(dA), pAct = buf(act), pC = buf(cs), pTc = buf(tanh_c);
  const int64_t BH = B * H, B4H = B * 4 * H;

  // The BPTT loop, last step first, each thread on its own batch rows [b0, b0 + nb).
  const int slices = slices_for(x.device(), B, T * B * 4 * H * (H + in));
#pragma omp parallel for num_threads(slices) schedule(static, 1)
  for (int sl = 0; sl < slices; ++sl) {
    const int64_t b0 = B * sl / slices, nb = B * (sl + 1) / slices - b0;
    const int64_t r = b0 * H, r4 = b0 * 4 * H;  // element offsets of row b0 in [B, H] / [B, 4H]
    const std::size_t row_bytes = static_cast<std::size_t>(nb * H) * dtype_size(dt);
    void* dh_rows = buf(dh).at(r);
    int64_t t_next = -1;  // the step processed just before (t+1 forward, t-1 reverse)
    for (int64_t step = T - 1; step >= 0; --step) {
      const int64_t t = reverse ? T - 1 - step : step;
      const int64_t c_prev = reverse ? t + 1 : t;  // index of c_{t-1} in cs
      // dh_t = dout_t (+ dh_n at the last step: h_n is a view of Y[t]) + da_{t+1} W_hh
      be.copy_device_to_device(dh_rows, pY.at(t * BH + r), row_bytes, x.device());
      if (t_next >= 0) {
        gemm(be, dt, pA.at(t_next * B4H + r4), false, 4 * H, w_hh.raw_data(), false, H, dh_rows, H,
             nb, H, 4 * H, 1.0);
      }
      // dc_t = dh_t o (1 - tanh^2 c_t) + dc_next;  da^{i,f,g,o};  dc <- dc_{t-1} = dc_t f_t
      be.lstm_pointwise_backward(dh_rows, buf(dc).at(r), pAct.at(t * B4H + r4), pA.at(t * B4H + r4),
                                 pC.at(c_prev * BH + r), pTc.at(t * BH + r), dt, nb, H);
      t_next = t;
    }
  }

  std::vector<Tensor> grads(kNumInputs);
  const int64_t first = reverse ? T - 1 : 0;  // the step that read h0
  if (need[kH0]) {                            // dh0 = da_first W_hh
    grads[kH0] = empty({B, H}, opt);
    gemm(be, dt, pA.at(first * B4H), false, 4 * H, w_hh.raw_data(), false, H, grads[kH0].raw_data(),
         H, B, H, 4 * H, 0.0);
  }
  if (need[kC0]) grads[kC0] = dc;  // what the first step passed back as dc_prev
  if (need[kX]) {                  // dx = dA W_ih: [T*B, 4H] x [4H, in]
    if (batch_major) {  // dx[t] = dA[t] W_ih into rows b*T + t of a dense [B, T, in]: ldc T*in
      const Tensor dx = empty({B, T, in}, opt);
      const Buf pdx = buf(dx);
#pragma omp parallel for num_threads(slices) schedule(static)
      for (int64_t t = 0; t < T; ++t) {
        gemm(be, dt, pA.at(t * B4H), false, 4 * H, w_ih.raw_data(), false, in, pdx.at(t * in),
             T * in, B, in, 4 * H, 0.0);
      }
      grads[kX] = dx.transpose(0, 1);  // [T, B, in] with x's strides
    } else {
      grads[kX] = empty({T, B, in}, opt);
      gemm_split(slices, be, dt, dA.raw_data(), false, 4 * H, w_ih.raw_data(), false, in,
                 grads[kX].raw_data(), in, T * B, in, 4 * H, 0.0);
    }
  }
  if (need[kWih]) {  // dW_ih = dA^T x: [4H, T*B] x [T*B, in]
    grads[kWih] = empty({4 * H, in}, opt);
    gemm_split(slices, be, dt, dA.raw_data(), true, 4 * H, x.raw_data(), false, in,
               grads[kWih].raw_data(), in, 4 * H, in, T * B, 0.0);
  }
  if (need[kWhh]) {  // dW_hh = sum_t da_t^T h_{t-1}: steps after the first read h_{t-1} from Y,
    // which sits next to da_t's rows (Y[t-1] forward, Y[t+1] reverse): one GEMM for those T-1
    // steps; the first step read h0, which lives elsewhere: a second, accumulating GEMM.
    grads[kWhh] = empty({4 * H, H}, opt);
    void* dW = grads[kWhh].raw_data();
    if (T > 1) {
      const int64_t a0 = reverse ? 0 : 1, y0 = reverse ? 1 : 0;
      gemm_split(slices, be, dt, pA.at(a0 * B4H), true, 4 * H, buf(Y).at(y0 * BH), false, H, dW, H,
                 4 * H, H, (T - 1) * B, 0.0);
    }
    gemm(be, dt, pA.at(first * B4H), true, 4 * H, h0.raw_data(), false, H, dW, H, 4 * H, H, B,
         T > 1 ? 1.0 : 0.0);
  }
  if (need[kBih] || need[kBhh]) {  // both biases enter every a_t unchanged: db = column sums of dA,
    // as a GEMM ones [1, T*B] x dA [T*B, 4H]: a sum(dim 0) reduction was ~4x slower at these sizes.
    const Tensor ones = full({1, T * B}, 1.0, opt), db = empty({4 * H}, opt);
    gemm(be, dt, ones.raw_data(), false, T * B, dA.raw_data(), false, 4 * H, db.raw_data(), 4 * H,
         1, 4 * H, T * B, 0.0);
    if (need[kBih]) grads[kBih] = db;
    if (need[kBhh]) grads[kBhh] = db;
  }
  return grads;
}

}  // namespace

LstmLayerOutput lstm_layer_fused(const Variable& xv, const Variable& h0v, const Variable& c0v,
                                 const LstmParams& p, bool reverse) {
  const DType dt = xv.dtype();
  LOOM_CHECK(dt == DType::Float32 || dt == DType::Float64,
             "LSTM (fused): float32 or float64 only, got ", dtype_name(dt),
             "; use LstmImpl::Composed for other dtypes");
  const int64_t T = xv.size(0), B = xv.size(1), in = xv.size(2), H = p.w_hh.size(1);
  LOOM_CHECK(T >= 1, "LSTM: the sequence is empty (input ", shape_str(xv.shape()), ")");
  LOOM_CHECK(p.w_ih.shape() == Shape({4 * H, in}), "LSTM: weight_ih is ", shape_str(p.w_ih.shape()),
             ", expected ", shape_str({4 * H, in}));
  LOOM_CHECK(p.w_hh.shape() == Shape({4 * H, H}) && p.b_ih.shape() == Shape({4 * H}) &&
                 p.b_hh.shape() == Shape({4 * H}),
             "LSTM: weight_hh ", shape_str(p.w_hh.shape()), ", bias_ih ", shape_str(p.b_ih.shape()),
             ", bias_hh ", shape_str(p.b_hh.shape()), " do not fit hidden size ", H);
  for (const Variable* v : {&h0v, &c0v, &p.w_ih, &p.w_hh, &p.b_ih, &p.b_hh}) {
    LOOM_CHECK(v->dtype() == dt && v->device() == xv.device(), "LSTM: parameters and states ",
               "must have the input's dtype and device (", dtype_name(dt), ", ", xv.device().str(),
               "), got ", dtype_name(v->dtype()), " on ", v->device().str());
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

  // cs [T+1, B, H] holds every c with c_0 at the end the sequence starts from: forward, step t
  // reads cs[t] and writes cs[t+1]; reverse, it reads cs[t+1] and writes cs[t]. Kept for
  // backward (da^f needs c_{t-1}); it is the forward's own state, so keeping it costs no work.
  const Tensor cs = empty({T + 1, B, H}, opt);
  const Tensor tanh_c = empty({T, B, H}, opt);  // kept: da^o and dc need it, saves a tanh
  const Tensor Y = empty({T + 1, B, H}, opt);   // the packed output (file header)
  const Buf pG = buf(gates), pC = buf(cs), pTc = buf(tanh_c), pY = buf(Y);
  const int64_t BH = B * H, B4H = B * 4 * H;
  const std::size_t bh_bytes = static_cast<std::size_t>(BH) * dtype_size(dt);
  be.copy_device_to_device(pC.at((reverse ? T : 0) * BH), c0.raw_data(), bh_bytes, xv.device());

  // 2. the sequential loop: one recurrent GEMM and one pointwise update per step, each thread
  // on its own batch rows [b0, b0 + nb) (see "Threads" above).
  const int slices = slices_for(xv.device(), B, T * B * 4 * H * H);
#pragma omp parallel for num_threads(slices) schedule(static, 1)
  for (int sl = 0; sl < slices; ++sl) {
    const int64_t b0 = B * sl / slices, nb = B * (sl + 1) / slices - b0;
    const int64_t r = b0 * H, r4 = b0 * 4 * H;  // element offsets of row b0 in [B, H] / [B, 4H]
    const void* h_prev = buf(h0).at(r);
    for (int64_t step = 0; step < T; ++step) {
      const int64_t t = reverse ? T - 1 - step : step;
      const int64_t c_prev = reverse ? t + 1 : t, c_out = reverse ? t : t + 1;
      gemm(be, dt, h_prev, false, H, w_hh.raw_data(), true, H, pG.at(t * B4H + r4), 4 * H, nb,
           4 * H, H, 1.0);
      be.lstm_pointwise_forward(pG.at(t * B4H + r4), pC.at(c_prev * BH + r), pC.at(c_out * BH + r),
                                pTc.at(t * BH + r), pY.at(t * BH + r), dt, nb, H);
      h_prev = pY.at(t * BH + r);
    }
  }
  be.copy_device_to_device(pY.at(T * BH), pC.at((reverse ? 0 : T) * BH), bh_bytes, xv.device());

  // What backward needs, and nothing else (docs/labs/04-lstm-bptt.md section 3): the activated
  // gates (every gate derivative is a function of the activation, so no exp/tanh in backward),
  // every c (da^f needs c_{t-1}), tanh(c_t) (da^o and dc), x (dW_ih), h0 and Y (the h_{t-1} of
  // each step, for dW_hh), and the two weight matrices (dx, dh_{t-1}). Not saved: the
  // pre-activations (overwritten by the activations), f*c and i*g, and any derivative.
  const std::vector<Variable> inputs{xv, h0v, c0v, p.w_ih, p.w_hh, p.b_ih, p.b_hh};
  std::vector<bool> need;
  for (const Variable& v : inputs)
    need.push_back(v.requires_grad());
  const Variable packed =
      record("LstmFusedBackward", Y, inputs,
             {{"x", x},
              {"h0", h0},
              {"w_ih", w_ih},
              {"w_hh", w_hh},
              {"gates", gates},
              {"c", cs},
              {"tanh_c", tanh_c},
              {"y", Y}},
             [reverse, batch_major, need](const Tensor& g, const SavedTensors& s) {
               return fused_backward(g, s, reverse, batch_major, need);
             });
  return {narrow(packed, 0, 0, T), select(packed, 0, reverse ? 0 : T - 1), select(packed, 0, T)};
}

}  // namespace loom::nn
