// tests/distributed/mpi_test_main.h: what the MPI test programs share: the communicator every
// test uses (made once in main, see mpi_test_main.cpp), and a tiny model for training tests.
//
// These programs run under `mpiexec -n 2` (tests/distributed/CMakeLists.txt); every rank runs
// every test, so each test makes the same collectives in the same order on every rank. Prefer
// EXPECT_* to ASSERT_* before a collective: an ASSERT that returns early on one rank only
// leaves the others waiting (the watchdog, LOOM_DIST_TIMEOUT_S=30 in ctest, then ends the job).
#pragma once

#include <memory>
#include <string>

#include "autograd/variable.h"
#include "nn/distributed/mpi_communicator.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/lstm.h"
#include "nn/module.h"

namespace loom::test {

// The job's communicator (an MpiCommunicator over all ranks).
nn::distributed::MpiCommunicator& comm();

// tokens [B, T] Int64 -> Embedding(V, E) -> LSTM(E, H, fused, batch_first) -> last step
// -> Linear(H, 1) -> logits [B, 1]. The study's model, small.
struct TinyLstmModel : nn::Module {
  std::shared_ptr<nn::Embedding> embedding;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> linear;
  TinyLstmModel(int64_t vocab, int64_t embed, int64_t hidden, Generator& gen);
  Variable forward(const Tensor& tokens);
};

// Max |a - b| over every parameter of two models with the same parameter names.
double max_param_diff(const nn::Module& a, const nn::Module& b);

}  // namespace loom::test
