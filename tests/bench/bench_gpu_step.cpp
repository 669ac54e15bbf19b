// tests/bench/bench_gpu_step.cpp: one training step of the IMDB model on a GPU, timed with CUDA
// events; one configuration per run, printed as one JSON object (tests/bench/run_gpu_bench.sh
// runs the grid beside tests/reference/torch_gpu_step_bench.py; docs/labs/08-cuda.md, section 8,
// says how to read it). The model of bench_lstm_step.cpp and of the PyTorch twin, no dropout:
//   Embedding(500, 100) -> LSTM(100, H) -> last step -> Linear(H, 1) -> BCEWithLogits -> Adam
// on batches of 100 x 100 tokens. fp16 adds autocast and a GradScaler.
//   --lstm composed|fused|persistent   --hidden H   --precision fp32|fp16
//   --graph        capture the step in a CudaGraph (cuda/runtime/graph.h) and replay it (the
//                  optimizer too if it captures; "graph_scope" says)
//   --input static|queue|resident   fixed device tensors; an UploadQueue fed from host batches
//                  (cuda/runtime/upload_queue.h); the dataset on the device (device_data.h)
//   --index-add deterministic|atomic (embedding backward)   --warmup N --steps N --json FILE
//   --device cpu   a smoke test of the same step on the CPU (host timing, static input, no graph)
// Reports the median, min and p90 of single steps, the mean of back-to-back steps, cudaMalloc
// calls while timing (must be 0) and implicit host syncs per step (cuda/runtime/sync_debug.h).
// Exit status 0 with "status": "ok" or "skipped" (a reason), 1 with "status": "error".
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "apps/imdb/device_data.h"
#include "autograd/functions.h"
#include "cuda/kernels/backend.h"
#include "cuda/runtime/allocator.cuh"
#include "cuda/runtime/device.h"
#include "cuda/runtime/graph.h"
#include "cuda/runtime/stream.cuh"
#include "cuda/runtime/sync_debug.h"
#include "cuda/runtime/upload_queue.h"
#include "nn/amp/autocast.h"
#include "nn/amp/grad_scaler.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/lstm.h"
#include "nn/optim/adam.h"
#include "tensor/lstm.h"
#include "tensor/ops.h"

namespace {

using json = nlohmann::json;
using loom::Device;
using loom::DType;
using loom::Tensor;
using loom::Variable;
namespace nn = loom::nn;

constexpr int64_t kVocab = 500, kEmbed = 100, kBatch = 100, kSeq = 100;

struct Config {
  std::string lstm = "fused", precision = "fp32", input = "static", device = "cuda", json_path;
  std::string index_add = "deterministic";
  int64_t hidden = 100;
  bool graph = false;
  int warmup = 10, steps = 50;
};

struct Skip {  // a configuration this build or device cannot run: reported, not an error
  std::string reason;
};

// --lstm composed | fused | persistent ("persistent": the fused LSTM asking for the one-kernel
// recurrence, nn/lstm.h).
nn::LSTMOptions lstm_options(const std::string& name, int64_t hidden) {
  LOOM_CHECK(name == "composed" || name == "fused" || name == "persistent",
             "bench_gpu_step: --lstm must be composed, fused or persistent, got '", name, "'");
  return nn::LSTMOptions(kEmbed, hidden)
      .batch_first(true)
      .impl(name == "composed" ? nn::LstmImpl::Composed : nn::LstmImpl::Fused)
      .persistent(name == "persistent");
}

// The IMDB model, its optimizer and (fp16) its loss scaler, on the GPU.
struct Model {
  Model(const Config& c, Device dev)
      : gen(0),
        emb(nn::EmbeddingOptions(kVocab, kEmbed), gen),
        lstm(lstm_options(c.lstm, c.hidden), gen),
        fc(nn::LinearOptions(c.hidden, 1), gen),
        fp16(c.precision == "fp16"),
        // The scaler's collapse check reads a device flag on the host: in a graph that is
        // impossible, so a graphed step never checks (eager steps check every step).
        scaler(nn::amp::GradScalerOptions().check_interval(c.graph ? int64_t{1} << 40 : 1)) {
    emb.to(dev);
    lstm.to(dev);
    fc.to(dev);
    const std::vector<std::pair<std::string, nn::Module*>> modules = {
        {"embedding.", &emb}, {"lstm.", &lstm}, {"linear.", &fc}};
    for (const auto& [prefix, m] : modules)  // PyTorch's names: the optimizer wants them unique
      for (const auto& [name, p] : m->named_parameters())
        params.push_back({prefix + name, p});
    adam = std::make_unique<nn::optim::Adam>(params, nn::optim::AdamOptions(1e-3));
  }
  // zero_grad, forward, loss, backward; the loss tensor stays in `loss` (a graph output).
  void forward_backward(const Tensor& tokens, const Tensor& labels) {
    adam->zero_grad(/*set_to_none=*/true);
    Variable l;
    {
      nn::amp::AutocastGuard autocast(DType::Float16, /*enabled=*/fp16);
      const Variable out = lstm.forward(emb.forward(tokens));        // [B, T, H]
      const Variable logits = fc.forward(select(out, 1, kSeq - 1));  // [B, 1]
      l = nn::bce_with_logits(logits, labels);                       // float32
    }
    if (fp16) {
      scaler.scale(l).backward();
    } else {
      l.backward();
    }
    loss = l.data();
  }
  void optimizer_step() {
    if (fp16) {
      scaler.step(*adam);
      scaler.update();
    } else {
      adam->step();
    }
  }
  loom::Generator gen;
  nn::Embedding emb;
  nn::LSTM lstm;
  nn::Linear fc;
  bool fp16;
  nn::optim::NamedParameters params;
  std::unique_ptr<nn::optim::Adam> adam;
  nn::amp::GradScaler scaler;
  Tensor loss;
};

// A batch on the host: tokens [B, T] Int32 and labels [B, 1] Float32, CPU tensors.
struct HostBatch {
  Tensor tokens, labels;
};

// Random host batches (token ids in [0, vocab), labels 0/1) from a fixed seed.
std::vector<HostBatch> host_batches(int count) {
  loom::Generator g(1);
  std::vector<HostBatch> out;
  for (int i = 0; i < count; ++i) {
    const Tensor t = loom::uniform({kBatch, kSeq}, 0, kVocab - 0.5, g).to(DType::Int32);
    const Tensor l = loom::lt(loom::rand({kBatch, 1}, g), 0.5).to(DType::Float32);
    out.push_back({t, l});
  }
  return out;
}

// The batches, repeated to 24,800 rows (about 10 MB), as one dataset kept on the device.
std::unique_ptr<loom::imdb::DeviceDataset> resident_dataset(const std::vector<HostBatch>& batches,
                                                            Device dev) {
  std::vector<int32_t> tokens;
  std::vector<float> labels;
  for (int copy = 0; copy < 31; ++copy)
    for (const HostBatch& b : batches) {
      const std::vector<int32_t> t = b.tokens.to_vector<int32_t>();
      const std::vector<float> l = b.labels.to_vector<float>();
      tokens.insert(tokens.end(), t.begin(), t.end());
      labels.insert(labels.end(), l.begin(), l.end());
    }
  auto data = std::make_unique<loom::imdb::DeviceDataset>(tokens, labels, kSeq, dev);
  std::vector<int64_t> order(labels.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    order[i] = static_cast<int64_t>((i * 7919) % order.size());  // a fixed shuffle
  data->set_order(order);
  return data;
}

// Where each step's batch comes from. next() makes `tokens`/`labels` hold the step's batch: for
// eager steps it may rebind them; for a graph (fixed = true) it refills the graph's inputs in
// place, and the captured step reads them through graph_inputs().
struct Input {
  Input(const Config& c, Device dev, bool static_tensors)
      : mode(c.input), fixed(static_tensors), batches(host_batches(8)) {
    tokens = batches[0].tokens.to(dev);
    labels = batches[0].labels.to(dev);
    if (mode == "queue") {
      queue = std::make_unique<loom::cuda::UploadQueue>(
          dev, std::vector<loom::cuda::UploadPart>{{DType::Int32, {kBatch, kSeq}},
                                                   {DType::Float32, {kBatch, 1}}});
      queue->submit({batches[0].tokens, batches[0].labels});
    } else if (mode == "resident") {
      resident = resident_dataset(batches, dev);
      rows = resident->batch_rows(0, kBatch).clone();
    } else if (mode != "static") {
      LOOM_FAIL("bench_gpu_step: --input must be static, queue or resident, got '", mode, "'");
    }
  }
  void next() {
    ++step;
    if (mode == "queue") {
      const std::vector<Tensor> b = queue->next();
      const HostBatch& h = batches[step % batches.size()];
      queue->submit({h.tokens, h.labels});  // copies during this step
      if (fixed) {
        tokens.copy_(b[0]);
        labels.copy_(b[1]);
      } else {
        tokens = b[0];
        labels = b[1];
      }
    } else if (mode == "resident") {
      const int64_t k = step % (resident->size() / kBatch);
      const Tensor r = resident->batch_rows(k, kBatch);
      if (fixed) {
        rows.copy_(r);  // the graph gathers from `rows`
      } else {
        std::tie(tokens, labels) = resident->gather(r);
      }
    }
  }
  // What a step reads; for a graph, the fixed inputs or the gather from the fixed rows.
  std::pair<Tensor, Tensor> inputs() const {
    return fixed && mode == "resident" ? resident->gather(rows) : std::pair{tokens, labels};
  }
  std::string mode;
  bool fixed;
  int64_t step = 0;
  std::vector<HostBatch> batches;
  Tensor tokens, labels;  // [B, T] Int32, [B, 1] Float32 on the device
  Tensor rows;            // resident: the batch's rows, Int64 [B] on the device
  std::unique_ptr<loom::cuda::UploadQueue> queue;
  std::unique_ptr<loom::imdb::DeviceDataset> resident;
};

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const std::size_t i = static_cast<std::size_t>(pos);
  const double frac = pos - static_cast<double>(i);
  return i + 1 < v.size() ? v[i] * (1 - frac) + v[i + 1] * frac : v[i];
}

// Milliseconds of GPU time between two events on the compute stream (the host waits for the
// second), or, with --device cpu, host time.
class StepTimer {
 public:
  explicit StepTimer(bool gpu) : gpu_(gpu) {
    if (gpu_) {
      start_ = std::make_unique<loom::cuda::Event>(true);
      stop_ = std::make_unique<loom::cuda::Event>(true);
    }
  }
  void start() {
    if (gpu_) {
      start_->record(loom::cuda::current_stream(0));
    } else {
      t0_ = std::chrono::steady_clock::now();
    }
  }
  double stop_ms() {
    if (!gpu_)
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_)
          .count();
    stop_->record(loom::cuda::current_stream(0));
    return loom::cuda::elapsed_ms(*start_, *stop_);
  }

 private:
  bool gpu_;
  std::unique_ptr<loom::cuda::Event> start_, stop_;
  std::chrono::steady_clock::time_point t0_;
};

// Captures the step (the optimizer too if it can be captured), then makes `step` refill the
// inputs and replay, and runs a few warm replays.
void capture_step(Model& model, Input& in, std::function<void()>& step,
                  std::unique_ptr<loom::cuda::CudaGraph>& graph, std::vector<double>& losses,
                  json& out) {
  graph = std::make_unique<loom::cuda::CudaGraph>();
  std::string scope = "step";
  try {
    graph->capture([&] {
      const auto [tokens, labels] = in.inputs();
      model.forward_backward(tokens, labels);
      model.optimizer_step();
    });
  } catch (const loom::Error& e) {
    scope = "forward+backward";
    out["graph_whole_step_error"] = e.what();
    graph->capture([&] {
      const auto [tokens, labels] = in.inputs();
      model.forward_backward(tokens, labels);
    });
  }
  out["graph_scope"] = scope;
  out["graph_nodes"] = graph->num_nodes();
  out["capture_ms"] = graph->capture_seconds() * 1e3;
  step = [&, scope] {
    in.next();
    graph->replay();
    if (scope != "step") model.optimizer_step();
  };
  for (int i = 0; i < 3; ++i) {  // warm replays (the first replay uploads the graph)
    step();
    losses.push_back(model.loss.item<double>());
  }
}

// Times `steps` steps one by one (median, min, p90) and back to back (mean), counting cudaMalloc
// calls and implicit host syncs meanwhile.
void time_steps(const Config& c, bool gpu, const std::function<void()>& step, Model& model,
                std::vector<double>& losses, json& out) {
  auto raw_allocations = [&] {
    return gpu ? loom::cuda::device_allocator(0).stats().raw_allocations : int64_t{0};
  };
  const int64_t raw_before = raw_allocations();
  StepTimer timer(gpu);
  std::vector<double> ms;
  for (int i = 0; i < c.steps; ++i) {
    timer.start();
    step();
    ms.push_back(timer.stop_ms());
  }
  losses.push_back(model.loss.item<double>());
  // Implicit host syncs inside the step (index bounds checks, host reads); the timer's own event
  // waits are explicit and not counted.
  const int64_t syncs_before = loom::cuda::host_sync_count();
  timer.start();
  for (int i = 0; i < c.steps; ++i)
    step();
  const double back_to_back = timer.stop_ms() / c.steps;
  const double syncs_per_step =
      static_cast<double>(loom::cuda::host_sync_count() - syncs_before) / c.steps;
  losses.push_back(model.loss.item<double>());
  out["median_ms"] = percentile(ms, 0.5);
  out["min_ms"] = *std::min_element(ms.begin(), ms.end());
  out["p90_ms"] = percentile(ms, 0.9);
  out["back_to_back_mean_ms"] = back_to_back;
  if (gpu) {
    out["host_syncs_per_step"] = syncs_per_step;
    out["raw_allocations_while_timing"] = raw_allocations() - raw_before;
    out["peak_bytes_reserved"] = loom::cuda::device_allocator(0).stats().peak_bytes_reserved;
  }
}

json run(const Config& c) {
  const bool gpu = c.device != "cpu";
  if (gpu && loom::cuda::device_count() == 0)
    throw Skip{"no CUDA device: " + loom::cuda::device_report()};
  LOOM_CHECK(gpu || (!c.graph && c.input == "static"),
             "bench_gpu_step: --device cpu (a smoke test of the step) takes neither --graph nor "
             "--input queue/resident");
  const Device dev = gpu ? Device("cuda:0") : loom::kCPU;
  if (gpu) loom::cuda::set_device(0);
  // The embedding's backward is an index_add: sorted and bit-reproducible, or one atomicAdd per
  // element (faster for large batches, last bits vary). Process-wide; this process runs one step.
  loom::cuda::set_deterministic(c.index_add == "deterministic");
  json out;
  Model model(c, dev);
  Input in(c, dev, /*static_tensors=*/c.graph);
  if (c.lstm == "persistent") {
    const bool runs = lstm_persistent_available(DType::Float32, c.hidden, dev) && !model.fp16;
    out["persistent_ran"] = runs;
    if (!runs)
      out["note"] = "the persistent recurrence cannot run here, the per-step one runs (" +
                    std::string(model.fp16 ? "autocast" : "W_hh does not fit on chip") + ")";
  }
  std::function<void()> step = [&] {
    in.next();
    const auto [tokens, labels] = in.inputs();
    model.forward_backward(tokens, labels);
    model.optimizer_step();
  };
  std::vector<double> losses;
  for (int i = 0; i < std::max(c.warmup, 1); ++i) {
    step();
    losses.push_back(model.loss.item<double>());
  }
  std::unique_ptr<loom::cuda::CudaGraph> graph;
  if (c.graph) capture_step(model, in, step, graph, losses, out);
  time_steps(c, gpu, step, model, losses, out);
  out["status"] = "ok";
  out["loss_first"] = losses.front();
  out["loss_last"] = losses.back();
  if (in.queue) out["queue_host_wait_s"] = in.queue->host_wait_seconds();
  if (model.fp16) {
    out["loss_scale"] = model.scaler.scale_value();
    out["scaler_collapse_check"] = c.graph ? "never (graphed)" : "every step (a host read)";
  }
  return out;
}

Config parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      LOOM_CHECK(i + 1 < argc, "bench_gpu_step: ", a, " needs a value");
      return argv[++i];
    };
    if (a == "--lstm") {
      c.lstm = value();
    } else if (a == "--hidden") {
      c.hidden = std::stoll(value());
    } else if (a == "--precision") {
      c.precision = value();
    } else if (a == "--input") {
      c.input = value();
    } else if (a == "--device") {
      c.device = value();
    } else if (a == "--index-add") {
      c.index_add = value();
    } else if (a == "--graph") {
      c.graph = true;
    } else if (a == "--warmup") {
      c.warmup = std::stoi(value());
    } else if (a == "--steps") {
      c.steps = std::stoi(value());
    } else if (a == "--json") {
      c.json_path = value();
    } else {
      LOOM_FAIL("bench_gpu_step: unknown argument '", a,
                "' (see the header of tests/bench/bench_gpu_step.cpp)");
    }
  }
  LOOM_CHECK(c.device == "cuda" || c.device == "cpu",
             "bench_gpu_step: --device must be cuda or cpu, got '", c.device, "'");
  LOOM_CHECK(c.index_add == "deterministic" || c.index_add == "atomic",
             "bench_gpu_step: --index-add must be deterministic or atomic, got '", c.index_add,
             "'");
  LOOM_CHECK(c.precision == "fp32" || c.precision == "fp16",
             "bench_gpu_step: --precision must be fp32 or fp16, got '", c.precision, "'");
  LOOM_CHECK(c.steps >= 1 && c.warmup >= 0 && c.hidden >= 1,
             "bench_gpu_step: --steps >= 1, --warmup >= 0, --hidden >= 1");
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  json out;
  int status = 0;
  try {
    c = parse(argc, argv);
    out = run(c);
  } catch (const Skip& s) {
    out["status"] = "skipped";
    out["reason"] = s.reason;
  } catch (const std::exception& e) {
    out["status"] = "error";
    out["reason"] = e.what();
    status = 1;
  }
  out["framework"] = "loom";
  out["device"] = loom::cuda::device_report();
  out["lstm"] = c.lstm;
  out["hidden"] = c.hidden;
  out["precision"] = c.precision;
  out["graph"] = c.graph;
  out["input"] = c.input;
  out["index_add"] = c.index_add;
  out["run_on"] = c.device;
  out["batch"] = kBatch;
  out["seq"] = kSeq;
  out["warmup"] = c.warmup;
  out["steps"] = c.steps;
  const std::string text = out.dump();
  std::printf("%s\n", text.c_str());
  if (!c.json_path.empty()) std::ofstream(c.json_path) << text << "\n";
  return status;
}
