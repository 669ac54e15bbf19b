// apps/imdb/cli.h: the command line: subcommands, their flags, and the resolved request.
//
//   imdb train   [flags]                 train one model into --out
//   imdb eval    --checkpoint FILE       accuracy, precision, recall, F1, confusion matrix, loss
//   imdb predict --checkpoint FILE TEXT  probability and label per review (eval and predict
//                                        also take a plain state_dict: plain_state_dict.h)
//   imdb study   [flags]                 the baseline-vs-optimized ablation, with a report folder
//   imdb export  [flags]                 the encoded data and split as safetensors (for PyTorch)
//   imdb quantize --checkpoint IN --out OUT   an int8 copy of a checkpoint (quantize.h)
//   imdb bench   --checkpoint FILE --scenario S   MLPerf-style latency/throughput (bench.cpp)
//   imdb prune   --checkpoint IN --sparsity S --structured|--unstructured --out OUT (prune.h)
//   imdb distill --teacher CKPT --lstm-size H --out OUT   a smaller student (distill.h)
// CLI11 parses. Every hyperparameter is a flag of train/study/export, layered over the defaults,
// the preset and the --config file (config.h says the order). parse_command_line prints --help
// itself and turns CLI11's errors into a message and a non-zero exit code.
// Left out: shell completion, per-subcommand config files.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "apps/imdb/config.h"

namespace loom::imdb {

struct EvalRequest {
  std::string checkpoint;  // a checkpoint written by train, or a plain state_dict
  std::string vocab;       // vocab.json: must match a checkpoint's; a state_dict's vocabulary
  std::string on = "val";  // val | train | test | all: which rows of the dataset to score
  std::string json_out;    // "": print only; else also write the results as JSON there
};

struct PredictRequest {
  std::string checkpoint;          // as EvalRequest's
  std::string vocab;               // as EvalRequest's
  std::vector<std::string> texts;  // reviews given as arguments
  std::string file;                // one review per line ("-" = stdin)
  double threshold = 0.5;          // probability >= threshold -> positive
  std::string format = "tsv";      // tsv | jsonl: one result per line on stdout
};

struct PruneRequest {
  std::string checkpoint;       // an app checkpoint to prune
  std::string out;              // the pruned checkpoint (.safetensors)
  double sparsity = 0.5;        // in [0, 1): weights (unstructured) or hidden units (structured)
  bool structured = false;      // --structured: whole hidden units (one of the two is required)
  bool unstructured = false;    // --unstructured: single weights
  int64_t finetune_epochs = 1;  // epochs of fine-tuning while the sparsity climbs (0: one shot)
  std::string json_out;         // "": none; else the results as JSON
};

struct DistillRequest {
  std::string teacher;       // the teacher's app checkpoint
  std::string out;           // the student's checkpoint (.safetensors)
  double temperature = 2.0;  // softens the teacher's and the student's outputs
  double alpha = 0.5;        // weight of the soft targets; 0 = the labels alone
  std::string json_out;      // "": none; else the results as JSON
};

struct StudyRequest {
  std::vector<std::string> variants;        // empty = all; names from study.h
  std::string python = "/usr/bin/python3";  // runs apps/imdb/plot_study.py (and PyTorch's side)
  // --inference: the inference study (inference_study.h) instead of the training ablation.
  bool inference = false;
  std::string checkpoint;        // the float32 model every row starts from (required)
  std::string pruned, student;   // the structured-pruned model and the distilled student
  bool make_missing = false;     // prune / distill the rows not given (this trains)
  int64_t student_size = 32;     // --make-missing: the student's LSTM hidden size
  int64_t finetune_epochs = 1;   // --make-missing: epochs of pruning / distilling
  std::string on = "val";        // accuracy on val | test
  int64_t eval_limit = 0;        // score the first N rows only (0: all)
  int64_t queries = 1024;        // single-stream: at least, per row
  double min_seconds = 10;       // single-stream: at least, per row
  int64_t samples = 5000;        // offline: samples per row
  int64_t offline_batch = 1000;  // offline: reviews per model call
  bool quick = false;            // a smoke run for tests: 32 queries, 64 samples, 200 rows
  bool no_torch = false;         // leave out the PyTorch rows
};

struct QuantizeRequest {
  std::string checkpoint;  // float32 checkpoint in
  std::string out;         // int8 checkpoint out
};

struct BenchRequest {
  std::string checkpoint;
  std::string model;                       // lstm | seq2cnn: must be the checkpoint's ("": any)
  std::string scenario = "single-stream";  // single-stream | offline | server
  int64_t queries = 1024;                  // single-stream: at least; server: per probe
  double min_seconds = 60;                 // single-stream: at least
  int64_t samples = 25000;                 // offline: samples in the one query
  int64_t batch = 1000;                    // offline: reviews per model call
  double rate = 0;                         // server: > 0 runs this rate only; 0 = search
  double latency_bound_ms = 10;            // server: the p99 bound
  int search_steps = 8;                    // server: bisection steps
  uint64_t seed = 1;                       // server: the arrival schedule
  bool no_fold = false;                    // the embedding and the input GEMM kept apart
  bool reference = false;                  // the training model's forward (no fast path)
  bool int8 = false;                       // seq2cnn: int8 convolutions, quantized at load
  std::string json_out;                    // where the JSON goes ("" = nowhere)
};

struct Request {
  std::string
      command;  // train | eval | predict | study | export | quantize | bench | prune | distill
  std::string command_line;  // argv joined by spaces (for reports)
  Config config;  // resolved and validated (train, study, export); eval/predict: threads etc.
  EvalRequest eval;
  PredictRequest predict;
  PruneRequest prune;
  DistillRequest distill;
  StudyRequest study;
  QuantizeRequest quantize;
  BenchRequest bench;
  int64_t stop_after_steps = 0;  // train: hidden test flag, acts as SIGINT after N steps
  bool overwrite = false;        // train, study: replace the old run in --out (run_folder.h)
  // The Config keys the --config file or a typed flag set (train, study, export, eval,
  // predict); --resume keeps the checkpoint's own value of every other run-time setting.
  std::set<std::string> given;
  bool was_given(const std::string& key) const { return given.count(key) > 0; }
};

// Parses argv into `request`. Returns -1 when the program should go on, otherwise the exit
// code to return right away (0 after --help, non-zero after a usage error, already printed).
// Configuration errors found after parsing (bad values, unreadable --config) throw loom::Error.
// `quiet`: print nothing (help, usage errors); under mpirun every rank parses the same command
// line, and only rank 0 speaks.
int parse_command_line(int argc, const char* const* argv, Request& request, bool quiet = false);

}  // namespace loom::imdb
