// apps/imdb/inference_study.h: `imdb study --inference`: every way loom serves the study's model,
// and PyTorch on the same weights, measured in one run and written up as one report.
//
//   fp32          --checkpoint on the inference path (inference.h)
//   int8          the same, quantized on the fly (quantize.h; kept as <out>/int8.safetensors)
//   pruned        --pruned (with --make-missing: `imdb prune --structured --sparsity 0.5`)
//   student       --student (with --make-missing: `imdb distill --lstm-size 32`)
//   student_int8  the student, quantized on the fly
//   torch_fp32    PyTorch on --checkpoint's weights, through tests/reference/
//   torch_int8    torch_inference_bench.py (the app runs it), and its quantize_dynamic
// Per row: accuracy on the validation (or test) rows, model bytes, single-stream latency on one
// thread (p50/p90/p99; real reviews, cleaning and encoding timed), offline throughput (--threads).
// A row that cannot run (no --pruned and no --make-missing; no python or no torch) is listed as
// skipped with the reason, never run as something else. Writes <out>/report.md, report.json
// and accuracy_vs_latency.png (apps/imdb/plot_inference_study.py).
// Leaves out: the server scenario (`imdb bench` runs it), several seeds, GPU rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace loom::imdb {

struct InferenceRow {
  std::string name;         // fp32, int8, pruned, student, student_int8, torch_fp32, torch_int8
  std::string description;  // what the row is, in words
  std::string status = "skipped";  // ran | skipped | failed
  std::string reason;              // why skipped or failed
  std::string checkpoint;          // the file it ran ("" for the PyTorch rows' derived model)
  std::string model;               // InferenceModel::describe(), or PyTorch's version
  double accuracy = 0;             // at threshold 0.5 on `scored` rows
  int64_t scored = 0;
  int64_t model_bytes = 0;  // the weights a served copy holds (inference_study.cpp says how)
  double p50_ms = 0, p90_ms = 0, p99_ms = 0;  // single-stream, batch 1, one thread
  int64_t queries = 0;
  double offline_per_s = 0;  // reviews/s
  double load_average = -1;  // the 1-minute load average when the row's timings started
};

nlohmann::json to_json(const InferenceRow& row);

// report.md's text: `context` holds "command", "started_utc", "machine", "checkpoint", "data",
// "split", "threads", "queries", "min_seconds", "samples" and "plots" (a line).
std::string inference_report_markdown(const std::vector<InferenceRow>& rows,
                                      const nlohmann::json& context);

}  // namespace loom::imdb
