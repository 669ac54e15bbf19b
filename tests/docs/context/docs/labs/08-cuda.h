// tests/docs/context/docs/labs/08-cuda.h: what the samples of docs/labs/08-cuda.md outside its
// kernel sections take from the tests they were lifted from (tests/cuda/).
#pragma once

#include <functional>

#include "cuda/kernels/backend.h"
#include "cuda/runtime/device.h"
#include "cuda/device_batches.h"
#include "cuda/runtime/graph.h"
#include "tensor/backend.h"
#include "tests/cuda/fake_raw_memory.h"

using loom::cuda::CudaGraph;
using loom::cuda::DeviceBatch;
using loom::cuda::DeviceBatchQueue;

// allocator_policy_test.cpp: an allocator on a fake raw side.
extern Fixture f;

// graph_test.cpp, expect_training_step_graphs: a tiny LSTM model on the GPU and its batches.
struct TinyModel {
  void forward_backward(const Tensor& tokens, const Tensor& labels);  // zero_grad, fwd, bwd
  std::unique_ptr<loom::nn::optim::Adam> adam;
  Tensor loss;
};
extern TinyModel graphed;
extern std::vector<Tensor> tokens, labels;
extern std::vector<double> graphed_losses;
extern const int64_t steps;
extern const bool whole_step;

// device_batches_test.cpp
loom::data::Batch make_batch(int64_t i, int64_t rows, int64_t seq_len);
void expect_batch(const DeviceBatch& got, const loom::data::Batch& want, const std::string& what);
extern DeviceBatchQueue q;
extern const int64_t seq_len, n;
extern const std::function<int64_t(int64_t)> rows_of;
