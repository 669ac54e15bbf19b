// tests/nn/thread_count_test.cpp: training gives bit-identical weights whatever the thread count
// (lab 04).
//
// The CPU backend splits work over threads in only two places, a GEMM's output rows and the LSTM
// recurrence's batch rows, both by the rules of tensor/cpu/threads.h (each element computed by
// one thread, slice boundaries on multiples of kSliceAlign rows); everything else is
// single-threaded. So a run with 1, 2 or 3 threads must end with the same bytes, which is what
// makes `--resume` on a different machine exact. The sizes are large enough that the GEMMs and
// the recurrence really split (at least 2 x 2^20 multiply-adds), and the batch (37 rows) is not a
// multiple of the alignment. Without the alignment (kSliceAlign = 1), 2 threads changed about 5%
// of the weights' bytes in the fused run. bfloat16's recurrence cuts at its GEMM's tile height
// instead (tensor/cpu/lstm.cpp).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "autograd/functions.h"
#include "nn/amp/autocast.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/lstm.h"
#include "nn/optim/adam.h"
#include "tensor/cpu/threads.h"

namespace {

using namespace loom;

struct RunOptions {
  nn::LstmImpl impl = nn::LstmImpl::Fused;
  bool autocast = false;
  bool bidirectional = false;
  DType low = DType::Float16;  // autocast's dtype
};

// Three Adam steps of Embedding -> LSTM -> last step -> Linear on `threads` threads; returns the
// bytes of every parameter.
std::vector<unsigned char> train(int threads, const RunOptions& o) {
  const int saved = get_num_threads();
  set_num_threads(threads);
  const int64_t B = 37, T = 24, E = 40, H = 64;
  Generator gen(5);
  nn::Embedding emb(nn::EmbeddingOptions(50, E), gen);
  nn::LSTM lstm(nn::LSTMOptions(E, H).batch_first(true).impl(o.impl).bidirectional(o.bidirectional),
                gen);
  nn::Linear fc(nn::LinearOptions(lstm.options().num_directions() * H, 1), gen);
  std::vector<Variable> params = emb.parameters();
  for (const Variable& p : lstm.parameters())
    params.push_back(p);
  for (const Variable& p : fc.parameters())
    params.push_back(p);
  nn::optim::Adam adam(params, nn::optim::AdamOptions(1e-2));
  const Tensor tokens = uniform({B, T}, 0, 49.5, gen).to(DType::Int64);
  const Tensor labels = lt(rand({B, 1}, gen), 0.5).to(DType::Float32);
  for (int step = 0; step < 3; ++step) {
    adam.zero_grad(true);
    Variable loss;
    {
      nn::amp::AutocastGuard guard(o.low, o.autocast);
      const Variable out = lstm.forward(emb.forward(tokens));
      loss = nn::bce_with_logits(fc.forward(select(out, 1, T - 1)), labels);
    }
    loss.backward();
    adam.step();
  }
  set_num_threads(saved);
  std::vector<unsigned char> bytes;
  for (const Variable& p : params) {
    const Tensor t = p.data().contiguous();
    const auto* b = static_cast<const unsigned char*>(t.raw_data());
    bytes.insert(bytes.end(), b, b + t.numel() * dtype_size(t.dtype()));
  }
  return bytes;
}

void expect_same_for_every_thread_count(const RunOptions& o) {
  const std::vector<unsigned char> one = train(1, o);
  for (int threads : {2, 3}) {
    const std::vector<unsigned char> many = train(threads, o);
    ASSERT_EQ(one.size(), many.size());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < one.size(); ++i)
      differ += one[i] != many[i];
    EXPECT_EQ(differ, 0u) << threads << " threads: " << differ << " of " << one.size()
                          << " bytes of the weights differ from 1 thread";
  }
}

TEST(ThreadCount, TheFusedLstmTrainsBitIdenticallyOnAnyNumberOfThreads) {
  expect_same_for_every_thread_count({nn::LstmImpl::Fused, false, true});
}

TEST(ThreadCount, SoDoesTheComposedLstm) {
  expect_same_for_every_thread_count({nn::LstmImpl::Composed, false, false});
}

TEST(ThreadCount, SoDoesMixedPrecision) {
  expect_same_for_every_thread_count({nn::LstmImpl::Fused, true, false});
}

// bfloat16 runs loom's own GEMM, and the recurrence cuts its batch at multiples of that kernel's
// tile height (10 rows on AVX-512), not of kSliceAlign: 20 + 17 rows here on 2 threads.
TEST(ThreadCount, SoDoesBfloat16WithItsOwnSliceBoundaries) {
  expect_same_for_every_thread_count({nn::LstmImpl::Fused, true, false, DType::BFloat16});
}

TEST(ThreadCount, SlicesEndOnTheMultipleOfTheAlignmentNearestAnEvenSplit) {
  EXPECT_EQ(cpu::slice_begin(100, 1, 2, 10), 50);  // a bf16 batch of 100: 5 tiles per thread
  EXPECT_EQ(cpu::slice_begin(100, 1, 2), 48);      // Eigen's kSliceAlign of 16
  EXPECT_EQ(cpu::slice_begin(37, 1, 2, 10), 20);   // nearest, not rounded down (10)
  EXPECT_EQ(cpu::slice_begin(30, 9, 10), 30);      // never past the end (32)
  EXPECT_EQ(cpu::slice_begin(30, 10, 10), 30);
  for (int64_t rows : {1, 7, 37, 100, 1000})
    for (int slices : {1, 2, 3, 8})
      for (int64_t align : {1, 10, 16}) {
        int64_t prev = 0;
        for (int s = 0; s <= slices; ++s) {
          const int64_t b = cpu::slice_begin(rows, s, slices, align);
          EXPECT_LE(prev, b) << rows << " rows, slice " << s << " of " << slices;
          EXPECT_TRUE(b == rows || b % align == 0) << b;
          prev = b;
        }
        EXPECT_EQ(cpu::slice_begin(rows, 0, slices, align), 0);
        EXPECT_EQ(prev, rows);
      }
}

}  // namespace
