// apps/imdb/commands.h: one function per subcommand; main.cpp dispatches to them.
//
// Each returns the process exit code and throws loom::Error for bad input (main prints it).
//   train    prepare data -> train (trainer.h) into config.out
//   eval     load a checkpoint, score it on a split or a dataset (evaluate.h)
//   predict  load a checkpoint, score review texts (predict.cpp)
//   study    the ablation (study.h); with --inference the inference study (inference_study.h)
//   export   the encoded data for the PyTorch reference (export.h)
//   quantize an int8 copy of a checkpoint (quantize.h)
//   bench    the MLPerf-style latency benchmark (bench.cpp)
//   prune    gradual magnitude pruning with fine-tuning (prune.h)
//   distill  a smaller student trained on a teacher's soft targets (distill.h)
#pragma once

#include "apps/imdb/cli.h"

namespace loom::imdb {

int run_train(const Request& r);
int run_eval(const Request& r);
int run_predict(const Request& r);
int run_study(const Request& r);
int run_inference_study(const Request& r);  // inference_study.cpp
int run_export(const Request& r);
int run_quantize(const Request& r);
int run_bench(const Request& r);
int run_prune(const Request& r);    // prune.cpp
int run_distill(const Request& r);  // distill.cpp

// Applies --threads (0 = all cores) to the CPU backend.
void apply_threads(int64_t threads);

// Creates config.out and writes config.json into it.
void prepare_output_folder(const Config& c);

// For a file a command writes when its work is done (distill's, prune's, quantize's --out and
// --json; "" is no file): creates its folder and checks that a file can be made there, so that
// a bad path fails before the work, not after an hour of it. `flag` names the option.
void prepare_output_file(const std::string& path, const char* flag);

}  // namespace loom::imdb
