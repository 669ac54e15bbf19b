// tests/distributed/mpi_test_main.cpp: main() for the GoogleTest programs that run under MPI,
// and the helpers of mpi_test_main.h.
//
// Every rank runs the tests. Rank 0 prints GoogleTest's usual output; the other ranks print
// only their failures, each line prefixed "[rank R]", so a failure on any rank is visible in
// the one log mpiexec gathers, and its exit code (mpiexec returns non-zero if any rank does)
// fails the ctest entry.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "autograd/functions.h"
#include "tests/distributed/mpi_test_main.h"

namespace loom::test {
namespace {

nn::distributed::MpiCommunicator* g_comm = nullptr;

// Prints failures only, attributed to this rank.
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stdout, "[rank %d] %s:%d: Failure\n%s\n", rank_,
                 r.file_name() ? r.file_name() : "?", r.line_number(), r.message());
    std::fflush(stdout);
  }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (!info.result()->Failed()) return;
    std::fprintf(stdout, "[rank %d] [  FAILED  ] %s.%s\n", rank_, info.test_suite_name(),
                 info.name());
    std::fflush(stdout);
  }

 private:
  int rank_;
};

}  // namespace

nn::distributed::MpiCommunicator& comm() {
  return *g_comm;
}

TinyLstmModel::TinyLstmModel(int64_t vocab, int64_t embed, int64_t hidden, Generator& gen)
    : Module("TinyLstmModel") {
  embedding = register_module(
      "embedding", std::make_shared<nn::Embedding>(nn::EmbeddingOptions(vocab, embed), gen));
  lstm = register_module(
      "lstm", std::make_shared<nn::LSTM>(
                  nn::LSTMOptions(embed, hidden).batch_first(true).impl(nn::LstmImpl::Fused), gen));
  linear =
      register_module("linear", std::make_shared<nn::Linear>(nn::LinearOptions(hidden, 1), gen));
}

Variable TinyLstmModel::forward(const Tensor& tokens) {
  const Variable out = lstm->forward(embedding->forward(tokens));  // [B, T, H]
  return linear->forward(select(out, 1, tokens.size(1) - 1));      // [B, 1]
}

double max_param_diff(const nn::Module& a, const nn::Module& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  LOOM_CHECK(pa.size() == pb.size(), "max_param_diff: different models");
  double worst = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    const auto va = pa[i].second.data().to_vector<double>();
    const auto vb = pb[i].second.data().to_vector<double>();
    LOOM_CHECK(va.size() == vb.size(), "max_param_diff: '", pa[i].first, "' differs in size");
    for (std::size_t k = 0; k < va.size(); ++k)
      worst = std::max(worst, std::abs(va[k] - vb[k]));
  }
  return worst;
}

}  // namespace loom::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // Starts MPI (MPI_Init_thread) and stays for the whole run; MPI_Finalize runs at exit.
  loom::nn::distributed::MpiCommunicator comm;
  loom::test::g_comm = &comm;
  if (comm.rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new loom::test::RankFailurePrinter(comm.rank()));
  }
  return RUN_ALL_TESTS();
}
