// tests/bench/bench_lstm_step.cpp: one training step of the IMDB baseline model, composed vs fused,
// and the fused one under bfloat16 autocast.
//
// The model of tests/reference/torch_step_bench.py (which times the same step in PyTorch):
//   Embedding(500, 100) -> LSTM(100, 100, batch_first) -> out[:, -1] -> Linear(100, 1)
//   -> BCEWithLogits (mean) -> Adam (lr 1e-3),  batch 100 x 100 random tokens, float32.
// One iteration = zero_grad, forward, backward, Adam step, the whole step PyTorch's script times.
// Arguments: /impl (0 composed, 1 fused, 2 fused under bfloat16 autocast: GEMM inputs in bf16 on
// the packed GEMM, everything else float32, no loss scaling) /threads. The driver
// tests/bench/run_lstm_bench.sh runs this and the PyTorch script in the same run and prints the
// ratios; results are in docs/results/lstm-step-cpu.md.
//
// Everything is nn/'s own: Embedding, LSTM, Linear, bce_with_logits, optim::Adam.
#include <benchmark/benchmark.h>

#include "autograd/functions.h"
#include "nn/amp/autocast.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/lstm.h"
#include "nn/optim/adam.h"
#include "tensor/cpu/threads.h"

namespace {

using loom::Tensor;
using loom::Variable;

constexpr int64_t kVocab = 500, kEmbed = 100, kHidden = 100, kBatch = 100, kSeq = 100;

void BM_ImdbStep(benchmark::State& state) {
  const auto impl = state.range(0) == 0 ? loom::nn::LstmImpl::Composed : loom::nn::LstmImpl::Fused;
  const bool bf16 = state.range(0) == 2;
  loom::set_num_threads(static_cast<int>(state.range(1)));
  loom::Generator gen(0);
  loom::nn::Embedding emb(loom::nn::EmbeddingOptions(kVocab, kEmbed), gen);
  loom::nn::LSTM lstm(loom::nn::LSTMOptions(kEmbed, kHidden).batch_first(true).impl(impl), gen);
  loom::nn::Linear fc(loom::nn::LinearOptions(kHidden, 1), gen);
  std::vector<Variable> params = emb.parameters();
  for (const Variable& p : lstm.parameters())
    params.push_back(p);
  for (const Variable& p : fc.parameters())
    params.push_back(p);
  loom::nn::optim::Adam adam(params, loom::nn::optim::AdamOptions(1e-3));
  const Tensor tokens =
      loom::uniform({kBatch, kSeq}, 0, kVocab - 0.5, gen).to(loom::DType::Int64);  // [B, T]
  const Tensor labels = loom::lt(loom::rand({kBatch, 1}, gen), 0.5).to(loom::DType::Float32);

  double loss_value = 0;
  for (auto _ : state) {
    adam.zero_grad(/*set_to_none=*/true);  // as the PyTorch script does
    Variable logits;
    {
      loom::nn::amp::AutocastGuard autocast(loom::DType::BFloat16, bf16);
      const Variable out = lstm.forward(emb.forward(tokens));  // [B, T, H]
      logits = fc.forward(select(out, 1, kSeq - 1));           // [B, 1]
    }
    const Variable loss = loom::nn::bce_with_logits(logits, labels);
    loss.backward();
    adam.step();
    loss_value = loss.item<double>();
  }
  state.counters["loss"] = loss_value;
  loom::set_num_threads(1);
}

BENCHMARK(BM_ImdbStep)
    ->ArgNames({"fused", "threads"})
    ->ArgsProduct({{0, 1, 2}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
