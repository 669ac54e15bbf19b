// nn/lstm_layer_common.cpp: the helpers the fused, fused-autocast and persistent LSTM layers
// share (declared in nn/lstm_layer_common.h): raw GEMMs, the CPU row split, the row broadcast,
// the batch_first copy, argument checks, dense inputs, the input projection, the node's
// recording, and the weight-gradient GEMMs after the BPTT loop.
//
// Leaves out: any per-timestep work (nn/lstm_fused.cpp, nn/lstm_fused_amp.cpp,
// nn/lstm_persistent.cpp).
#include "nn/lstm_layer_common.h"

#include <algorithm>

#include "autograd/functions.h"
#include "tensor/cpu/threads.h"
#include "tensor/ops.h"

namespace loom::nn::detail {

void gemm(Backend& be, GemmTypes dt, const void* a, bool ta, int64_t lda, const void* b, bool tb,
          int64_t ldb, void* c, int64_t ldc, int64_t m, int64_t n, int64_t k, double beta) {
  MatmulArgs g;
  g.m = m, g.n = n, g.k = k;
  g.trans_a = ta, g.trans_b = tb;
  g.lda = lda, g.ldb = ldb, g.ldc = ldc;
  g.beta = beta;
  if (dt.ab == dt.c)
    be.matmul(a, b, c, dt.c, g);
  else
    be.matmul_mixed(a, b, dt.ab, c, dt.c, g);
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

void gemm_split(int slices, Backend& be, GemmTypes dt, const void* a, bool ta, int64_t lda,
                const void* b, bool tb, int64_t ldb, void* c, int64_t ldc, int64_t m, int64_t n,
                int64_t k, double beta) {
  const std::size_t es_a = dtype_size(dt.ab), es_c = dtype_size(dt.c);
#pragma omp parallel for num_threads(slices) schedule(static, 1)
  for (int s = 0; s < slices; ++s) {
    const int64_t m0 = m * s / slices, m1 = m * (s + 1) / slices;
    // Row m0 of op(A): row m0 of A, or column m0 of the stored (transposed) A.
    const char* a0 = static_cast<const char*>(a) + (ta ? m0 : m0 * lda) * es_a;
    char* c0 = static_cast<char*>(c) + m0 * ldc * es_c;
    gemm(be, dt, a0, ta, lda, b, tb, ldb, c0, ldc, m1 - m0, n, k, beta);
  }
}

// Doubling copies (row 0, then rows 0..1 into 2..3, 0..3 into 4..7, ...). A broadcast through
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

// On the CPU the time-major copy is T*B row memcpys (each row of `in` elements is contiguous),
// and dx is written straight into a dense [B, T, in] buffer, so neither the copy here nor the
// embedding's backward goes through the generic strided copy (5-10 ms each per step at the IMDB
// sizes). Elsewhere: contiguous() and a time-major dx.
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

void check_layer_shapes(const char* who, const Variable& x, const Variable& h0, const Variable& c0,
                        const LstmParams& p) {
  const int64_t T = x.size(0), B = x.size(1), in = x.size(2), H = p.w_hh.size(1);
  LOOM_CHECK(T >= 1, who, ": the sequence is empty (input ", shape_str(x.shape()), ")");
  LOOM_CHECK(p.w_ih.shape() == Shape({4 * H, in}), who, ": weight_ih is ",
             shape_str(p.w_ih.shape()), ", expected ", shape_str({4 * H, in}));
  LOOM_CHECK(p.w_hh.shape() == Shape({4 * H, H}) && p.b_ih.shape() == Shape({4 * H}) &&
                 p.b_hh.shape() == Shape({4 * H}),
             who, ": weight_hh ", shape_str(p.w_hh.shape()), ", bias_ih ",
             shape_str(p.b_ih.shape()), ", bias_hh ", shape_str(p.b_hh.shape()),
             " do not fit hidden size ", H);
  LOOM_CHECK(h0.shape() == Shape({B, H}) && c0.shape() == Shape({B, H}), who, ": h0 ",
             shape_str(h0.shape()), " and c0 ", shape_str(c0.shape()), " must be ",
             shape_str({B, H}));
}

void check_layer_dtypes(const char* who, const Variable& x, const Variable& h0, const Variable& c0,
                        const LstmParams& p) {
  for (const Variable* v : {&h0, &c0, &p.w_ih, &p.w_hh, &p.b_ih, &p.b_hh}) {
    LOOM_CHECK(v->dtype() == x.dtype() && v->device() == x.device(), who, ": parameters and ",
               "states must have the input's dtype and device (", dtype_name(x.dtype()), ", ",
               x.device().str(), "), got ", dtype_name(v->dtype()), " on ", v->device().str());
  }
}

LayerInputs dense_layer_inputs(Backend& be, const Variable& xv, const Variable& h0,
                               const Variable& c0, const LstmParams& p) {
  LayerInputs in;
  in.batch_major = is_batch_major(xv.data());
  in.x = in.batch_major ? time_major_copy(be, xv.data()) : xv.data().contiguous();
  in.h0 = h0.data().contiguous();
  in.c0 = c0.data().contiguous();
  in.w_ih = p.w_ih.data().contiguous();
  in.w_hh = p.w_hh.data().contiguous();
  return in;
}

Tensor input_projection(Backend& be, GemmTypes dt, const Tensor& x, const Tensor& w_ih,
                        const LstmParams& p, Device dev) {
  const int64_t T = x.size(0), B = x.size(1), in = x.size(2), H4 = w_ih.size(0);
  const Tensor gates = empty({T, B, H4}, TensorOptions(dt.c, dev));
  fill_rows(be, gates, add(p.b_ih.data(), p.b_hh.data()), dev);
  gemm_split(slices_for(dev, T * B, T * B * H4 * in), be, dt, x.raw_data(), false, in,
             w_ih.raw_data(), true, in, gates.raw_data(), H4, T * B, H4, in, 1.0);
  return gates;
}

std::vector<Variable> layer_node_inputs(const Variable& x, const Variable& h0, const Variable& c0,
                                        const LstmParams& p) {
  return {x, h0, c0, p.w_ih, p.w_hh, p.b_ih, p.b_hh};  // Input order
}

std::vector<bool> grads_needed(const std::vector<Variable>& inputs) {
  std::vector<bool> need;
  for (const Variable& v : inputs)
    need.push_back(v.requires_grad());
  return need;
}

LstmLayerOutput unpack_layer_output(const Variable& packed, int64_t T, bool reverse) {
  return {narrow(packed, 0, 0, T), select(packed, 0, reverse ? 0 : T - 1), select(packed, 0, T)};
}

LstmLayerOutput record_layer(const char* name, const Variable& x, const Variable& h0,
                             const Variable& c0, const LstmParams& p, const LayerSaved& saved,
                             bool reverse, bool batch_major, LayerBackward backward) {
  const std::vector<Variable> inputs = layer_node_inputs(x, h0, c0, p);
  const std::vector<bool> need = grads_needed(inputs);
  const Variable packed =
      record(name, saved.Y, inputs,
             {{"x", saved.x},
              {"h0", saved.h0},
              {"w_ih", saved.w_ih},
              {"w_hh", saved.w_hh},
              {"gates", saved.gates},
              {"c", saved.cs},
              {"tanh_c", saved.tanh_c},
              {"y", saved.Y}},
             [reverse, batch_major, need, backward](const Tensor& g, const SavedTensors& s) {
               const LayerSaved l{s["x"],     s["h0"], s["w_ih"],   s["w_hh"],
                                  s["gates"], s["c"],  s["tanh_c"], s["y"]};
               return backward(g, l, reverse, batch_major, need);
             });
  return unpack_layer_output(packed, x.size(0), reverse);
}

void lstm_weight_grads(Backend& be, GemmTypes dt, const Tensor& dA, const Tensor& dA_sum,
                       const Tensor& x, const Tensor& h0, const Tensor& Y, const Tensor& w_ih,
                       bool reverse, bool batch_major, int slices, const std::vector<bool>& need,
                       std::vector<Tensor>& grads) {
  const int64_t T = x.size(0), B = x.size(1), in = x.size(2), H = h0.size(1);
  const int64_t BH = B * H, B4H = B * 4 * H;
  const TensorOptions opt(dt.c, x.device());
  const Buf pA = buf(dA);
  if (need[kX]) {       // dx = dA W_ih: [T*B, 4H] x [4H, in]
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
    const int64_t first = reverse ? T - 1 : 0;  // the step that read h0
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
    // The sum reads dA_sum (dt.c: under autocast the float32 dA, not its float16 rounding).
    const Tensor ones = full({1, T * B}, 1.0, opt), db = empty({4 * H}, opt);
    gemm(be, dt.c, ones.raw_data(), false, T * B, dA_sum.raw_data(), false, 4 * H, db.raw_data(),
         4 * H, 1, 4 * H, T * B, 0.0);
    if (need[kBih]) grads[kBih] = db;
    if (need[kBhh]) grads[kBhh] = db;
  }
}

}  // namespace loom::nn::detail
