// tests/distributed/failure_program.cpp: a 2-rank program that fails on purpose, for the ctest
// entries that check a failing rank ends the whole job with a clear message instead of a hang
// (run through check_failure.sh, which fails if mpiexec is still running after its limit).
//
//   dist_failure_program throw     rank 1 throws inside run_distributed while rank 0 waits in an
//                                  all-reduce: run_distributed must MPI_Abort the job at once
//   dist_failure_program uncaught  the same, outside run_distributed: the terminate handler
//                                  installed with MPI must do it
//   dist_failure_program hang      rank 1 leaves without joining the all-reduce (no error at
//                                  all): only rank 0's watchdog can end the job
//   dist_failure_program ok        both ranks all-reduce and exit 0 (the control)
// Run the first two with LOOM_DIST_TIMEOUT_S=0 (watchdog off), so they pass only through the
// mechanism they test.
#include <cstdio>
#include <cstring>
#include <string>

#include "nn/distributed/communicator.h"
#include "nn/distributed/mpi_communicator.h"
#include "tensor/ops.h"

using namespace loom;
using namespace loom::nn::distributed;

namespace {

// Rank 0's side in every mode: an all-reduce that completes only if every rank joins.
int wait_in_all_reduce(Communicator& comm) {
  const Tensor t = ones({1000});
  comm.all_reduce_sum(t);
  std::printf("rank %d: all-reduce done, t[0] = %g\n", comm.rank(), t.to_vector<float>()[0]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode != "throw" && mode != "uncaught" && mode != "hang" && mode != "ok") {
    std::fprintf(stderr, "usage: %s throw|uncaught|hang|ok (under mpiexec -n 2)\n", argv[0]);
    return 2;
  }
  MpiCommunicator comm;
  const bool victim = comm.rank() == 1;
  if (mode == "ok") return wait_in_all_reduce(comm);
  if (mode == "hang") {
    if (victim) return 0;  // skips the collective; exits "successfully"
    return wait_in_all_reduce(comm);
  }
  if (mode == "uncaught") {
    if (victim) throw Error("injected failure on rank 1 (uncaught)");
    return wait_in_all_reduce(comm);
  }
  return run_distributed(comm, [&] {
    if (victim) throw Error("injected failure on rank 1");
    return wait_in_all_reduce(comm);
  });
}
