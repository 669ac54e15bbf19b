// tests/docs/context/docs/labs/08-cuda.h: what the samples of docs/labs/08-cuda.md take from the
// code they were lifted from: the kernels of cuda/kernels/*_kernels.cuh, compiled as
// tests/cuda/ compiles them (tests/cuda/kernel_util_host.h defines CUDA's keywords for the host
// compiler), and the tests whose excerpts the page shows (tests/cuda/).
#pragma once

#include <functional>

#include "cuda/kernels/backend.h"
#include "cuda/runtime/device.h"
#include "cuda/runtime/graph.h"
#include "cuda/runtime/upload_queue.h"
#include "tensor/backend.h"
#include "tensor/kernels/lstm_pointwise.h"
#include "tests/cuda/fake_raw_memory.h"
// Last: the CUDA keywords (__global__, threadIdx, ...) stay defined for the rest of the page.
#include "tests/cuda/kernel_util_host.h"
// The kernel headers after it, as in the emulation tests.
#include "cuda/kernels/index_kernels.cuh"

// The kernel samples: grid_stride, Pack, to_compute, to_out, ComputeT (loom::cuda), add_rounded.
using namespace loom::cuda;
using loom::cuda::index_kernels::add_rounded;

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

// upload_queue_test.cpp, DeliversEveryItemWholeAndInOrder
std::vector<Tensor> make_item(int64_t i, int64_t rows, int64_t seq_len);
void expect_item(const std::vector<Tensor>& got, const std::vector<Tensor>& want,
                 const std::string& what);
extern UploadQueue q;
extern const int64_t seq_len, n;
extern const std::function<int64_t(int64_t)> rows_of;
