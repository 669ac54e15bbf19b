// apps/imdb/main.cpp: the imdb program's entry point: banner, parse, dispatch, report errors.
//
// Every error a user can cause (bad flag values, missing data, corrupt checkpoints) arrives here
// as a loom::Error and becomes one line on stderr and exit status 2; CLI11 usage errors print
// their own message (exit status from CLI11, non-zero). Nothing is allowed to crash.
#include <cstdio>
#include <exception>

#include "apps/imdb/cli.h"
#include "apps/imdb/commands.h"
#include "cuda/device.h"
#include "tensor/error.h"

int main(int argc, char** argv) {
  using namespace loom::imdb;
  // Line-buffered even into a file or pipe, so a Slurm log shows each line when it happens.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
    Request request;
    const int code = parse_command_line(argc, argv, request);
    if (code >= 0) return code;
    // The device banner: which backends this binary has and what it sees.
    std::printf("loom imdb %s | %s\n", request.command.c_str(),
                loom::cuda::device_report().c_str());
    std::fflush(stdout);
    if (request.command == "train") return run_train(request);
    if (request.command == "eval") return run_eval(request);
    if (request.command == "predict") return run_predict(request);
    if (request.command == "study") return run_study(request);
    if (request.command == "export") return run_export(request);
    std::fprintf(stderr, "imdb: error: no command given (try --help)\n");
    return 2;
  } catch (const loom::Error& e) {
    std::fprintf(stderr, "imdb: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "imdb: error: %s\n", e.what());
    return 2;
  }
}
