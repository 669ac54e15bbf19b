// tests/bench/bench_gpu_step.cpp: one training step of the IMDB model on a GPU, timed with CUDA
// events; one configuration per run, printed as one JSON object (tests/bench/run_gpu_bench.sh
// runs the grid, side by side with tests/reference/torch_gpu_step_bench.py).
//
// The model of the CPU benchmark (bench_lstm_step.cpp) and of the PyTorch twin:
//   Embedding(500, 100) -> LSTM(100, H, batch_first) -> out[:, -1] -> Linear(H, 1)
//   -> BCEWithLogits (mean) -> Adam (lr 1e-3); batch 100 x 100 tokens; no dropout.
// A step = zero_grad(set_to_none), forward, loss, backward, optimizer step; fp16 adds autocast
// around forward + loss and a GradScaler (scale, unscale + step, update).
//
//   --lstm composed|fused|persistent  the LSTM implementation (nn/lstm.h)
//   --hidden H           100 (the baseline) or 64 (the study's optimized model)
//   --precision fp32|fp16
//   --graph              capture the step in a CudaGraph (cuda/runtime/graph.h) and replay it. The whole
//                        step is captured (Adam's step count is on the device); if that capture
//                        fails the forward + backward are captured and the optimizer runs eagerly
//                        after each replay. "graph_scope" in the output says which.
//   --input static|queue|resident   where batches come from: fixed device tensors; a
//                        DeviceBatchQueue fed from host batches each step; a ResidentDataset
//                        gathered on the device (cuda/device_batches.h)
//   --warmup N --steps N --json FILE
//   --device cpu         a smoke test of the same step on the CPU (host timing; no --graph,
//                        --input static only): checks the benchmark's own code without a GPU
//
// Timing: each step between two timing events on the compute stream, the host waiting for the
// second (median, min, p90 of `steps` such steps); then `steps` steps back to back between one
// pair of events (mean: what a training loop that never reads the GPU would see). Warm-up steps
// are not timed; the allocator's cudaMalloc count must not grow while timing (reported), and
// "host_syncs_per_step" counts the implicit host synchronizations of a step (cuda/runtime/sync_debug.h:
// index bounds checks, host reads), each of which drains the GPU's queue.
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
#include <vector>

#include "autograd/functions.h"
#include "cuda/runtime/allocator.cuh"
#include "cuda/runtime/device.h"
#include "cuda/device_batches.h"
#include "cuda/runtime/graph.h"
#include "cuda/runtime/stream.cuh"
#include "cuda/runtime/sync_debug.h"
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

// Random host batches (token ids in [0, vocab), labels 0/1) from a fixed seed.
std::vector<loom::data::Batch> host_batches(int count) {
  loom::Generator g(1);
  std::vector<loom::data::Batch> out;
  for (int i = 0; i < count; ++i) {
    loom::data::Batch b;
    b.batch_size = kBatch;
    b.seq_len = kSeq;
    const Tensor t = loom::uniform({kBatch, kSeq}, 0, kVocab - 0.5, g).to(DType::Int32);
    const Tensor l = loom::lt(loom::rand({kBatch}, g), 0.5).to(DType::Float32);
    b.tokens = t.to_vector<int32_t>();
    b.labels = l.to_vector<float>();
    out.push_back(std::move(b));
  }
  return out;
}

// Where each step's batch comes from. next() makes `tokens`/`labels` hold the step's batch: for
// eager steps it may rebind them; for a graph (static = true) it refills them in place.
struct Input {
  Input(const Config& c, Device dev, bool static_tensors) : mode(c.input), fixed(static_tensors) {
    batches = host_batches(8);
    tokens = loom::from_vector<int32_t>(batches[0].tokens, {kBatch, kSeq}, dev);
    labels = loom::from_vector<float>(batches[0].labels, {kBatch, 1}, dev);
    if (mode == "queue") {
      queue = std::make_unique<loom::cuda::DeviceBatchQueue>(dev, kBatch, kSeq);
      queue->submit(batches[0]);
    } else if (mode == "resident") {
      std::vector<int32_t> all_tokens;
      std::vector<float> all_labels;
      for (int copy = 0; copy < 31; ++copy)  // 31 x 8 x 100 = 24,800 rows, about 10 MB
        for (const auto& b : batches) {
          all_tokens.insert(all_tokens.end(), b.tokens.begin(), b.tokens.end());
          all_labels.insert(all_labels.end(), b.labels.begin(), b.labels.end());
        }
      resident = std::make_unique<loom::cuda::ResidentDataset>(dev, all_tokens, all_labels, kSeq);
      std::vector<int64_t> order(all_labels.size());
      for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = static_cast<int64_t>((i * 7919) % order.size());  // a fixed shuffle
      resident->set_order(order);
    } else if (mode != "static") {
      LOOM_FAIL("bench_gpu_step: --input must be static, queue or resident, got '", mode, "'");
    }
  }
  void next() {
    ++step;
    if (mode == "queue") {
      loom::cuda::DeviceBatch b = queue->next();
      queue->submit(batches[step % batches.size()]);  // copies during this step
      if (fixed) {
        tokens.copy_(b.tokens);
        labels.copy_(b.labels);
      } else {
        tokens = b.tokens;
        labels = b.labels;
      }
    } else if (mode == "resident") {
      const int64_t k = step % resident->num_batches(kBatch, /*drop_last=*/true);
      if (fixed) {
        resident->gather_into(k, kBatch, tokens, labels);
      } else {
        loom::cuda::DeviceBatch b = resident->batch(k, kBatch);
        tokens = b.tokens;
        labels = b.labels;
      }
    }
  }
  std::string mode;
  bool fixed;
  int64_t step = 0;
  std::vector<loom::data::Batch> batches;
  Tensor tokens, labels;  // [B, T] Int32, [B, 1] Float32 on the device
  std::unique_ptr<loom::cuda::DeviceBatchQueue> queue;
  std::unique_ptr<loom::cuda::ResidentDataset> resident;
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

json run(const Config& c) {
  const bool gpu = c.device != "cpu";
  if (gpu && loom::cuda::device_count() == 0)
    throw Skip{"no CUDA device: " + loom::cuda::device_report()};
  LOOM_CHECK(gpu || (!c.graph && c.input == "static"),
             "bench_gpu_step: --device cpu (a smoke test of the step) takes neither --graph nor "
             "--input queue/resident");
  const Device dev = gpu ? Device("cuda:0") : loom::kCPU;
  if (gpu) loom::cuda::set_device(0);
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
    model.forward_backward(in.tokens, in.labels);
    model.optimizer_step();
  };
  std::vector<double> losses;
  for (int i = 0; i < std::max(c.warmup, 1); ++i) {
    step();
    losses.push_back(model.loss.item<double>());
  }

  std::unique_ptr<loom::cuda::CudaGraph> graph;
  if (c.graph) {
    graph = std::make_unique<loom::cuda::CudaGraph>();
    std::string scope = "step";
    try {
      graph->capture([&] {
        model.forward_backward(in.tokens, in.labels);
        model.optimizer_step();
      });
    } catch (const loom::Error& e) {
      scope = "forward+backward";
      out["graph_whole_step_error"] = e.what();
      graph->capture([&] { model.forward_backward(in.tokens, in.labels); });
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
  // Implicit host syncs inside the step (index bounds checks, host reads: cuda/runtime/sync_debug.h);
  // the timer's own event waits are explicit and not counted.
  const int64_t syncs_before = loom::cuda::host_sync_count();
  timer.start();
  for (int i = 0; i < c.steps; ++i)
    step();
  const double back_to_back = timer.stop_ms() / c.steps;
  const double syncs_per_step =
      static_cast<double>(loom::cuda::host_sync_count() - syncs_before) / c.steps;
  losses.push_back(model.loss.item<double>());

  out["status"] = "ok";
  out["median_ms"] = percentile(ms, 0.5);
  out["min_ms"] = *std::min_element(ms.begin(), ms.end());
  out["p90_ms"] = percentile(ms, 0.9);
  out["back_to_back_mean_ms"] = back_to_back;
  out["loss_first"] = losses.front();
  out["loss_last"] = losses.back();
  if (gpu) {
    out["host_syncs_per_step"] = syncs_per_step;
    out["raw_allocations_while_timing"] = raw_allocations() - raw_before;
    out["peak_bytes_reserved"] = loom::cuda::device_allocator(0).stats().peak_bytes_reserved;
  }
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
