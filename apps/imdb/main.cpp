// apps/imdb/main.cpp: the imdb program's entry point: banner, parse, dispatch, report errors.
//
// Every error a user can cause (bad flag values, missing data, corrupt checkpoints) arrives here
// as a loom::Error and becomes one line on stderr and exit status 2; CLI11 usage errors print
// their own message (exit status from CLI11, non-zero). Nothing is allowed to crash.
// Under mpirun/srun every rank runs this same main on the same command line. The rank is read
// from the launcher's environment first (no MPI yet), and:
//   - command-line errors (CLI11, bad values, a launch check_launch refuses) are the same on
//     every rank: only rank 0 prints them, so the user sees one message, and every rank exits 2;
//   - later errors may be one rank's own (its node cannot read the data): every rank prints its
//     own, prefixed "rank R of N"; once training runs, run_distributed makes one rank's error
//     end them all (apps/imdb/distributed.h).
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "apps/imdb/cli.h"
#include "apps/imdb/commands.h"
#include "apps/imdb/distributed.h"
#include "cuda/runtime/device.h"
#include "nn/distributed/env.h"
#include "tensor/error.h"

int main(int argc, char** argv) {
  using namespace loom::imdb;
  // Line-buffered even into a file or pipe, so a Slurm log shows each line when it happens.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  loom::nn::distributed::ProcessInfo proc;
  Request request;
  try {
    proc = loom::nn::distributed::process_info_from_env();  // malformed variables throw
  } catch (const std::exception& e) {
    std::fprintf(stderr, "imdb: error: %s\n", e.what());
    return 2;
  }
  const bool root = proc.rank == 0;
  try {
    const int code = parse_command_line(argc, argv, request, /*quiet=*/!root);
    if (code >= 0) return code;
    check_launch(request, proc);
  } catch (const std::exception& e) {
    if (root) std::fprintf(stderr, "imdb: error: %s\n", e.what());
    return 2;
  }
  try {
    // The device banner: which backends this binary has and what it sees. predict's stdout
    // holds its results alone (for pipes), so its banner goes to stderr.
    if (root)
      std::fprintf(request.command == "predict" ? stderr : stdout, "loom imdb %s | %s\n",
                   request.command.c_str(), loom::cuda::device_report().c_str());
    std::fflush(stdout);
    if (request.command == "train") return run_train(request);
    if (request.command == "eval") return run_eval(request);
    if (request.command == "predict") return run_predict(request);
    if (request.command == "study") return run_study(request);
    if (request.command == "export") return run_export(request);
    if (request.command == "quantize") return run_quantize(request);
    if (request.command == "bench") return run_bench(request);
    if (request.command == "prune") return run_prune(request);
    if (request.command == "distill") return run_distill(request);
    std::fprintf(stderr, "imdb: error: no command given (try --help)\n");
    return 2;
  } catch (const std::bad_alloc&) {
    // The settings are checked against sane maxima (config.cpp); what is left is a machine
    // with too little memory for them.
    std::fprintf(stderr,
                 "imdb: error: out of memory (std::bad_alloc) in `imdb %s`: lower --batch, "
                 "--max-len, --vocab, --embed or --lstm-size, or use a machine with more "
                 "memory\n",
                 request.command.c_str());
    return 2;
  } catch (const std::exception& e) {
    // loom::Error included. Several processes: say which one failed.
    const std::string who =
        proc.distributed() ? " rank " + std::to_string(proc.rank) + " of " +
                                 (proc.world_size > 0 ? std::to_string(proc.world_size) : "?") + ":"
                           : "";
    std::fprintf(stderr, "imdb:%s error: %s\n", who.c_str(), e.what());
    return 2;
  }
}
