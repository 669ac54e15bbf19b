// apps/imdb/report.h: the study's report folder, built from each variant's metrics.jsonl.
//
// <report>/report.md      what ran, on what, and the table: precision, mean epoch time, data time,
//                         wait time, final train and validation accuracy, speedup and accuracy
//                         change vs the baseline; skipped variants with the reason
// <report>/metrics.csv    one row per (variant, epoch), every field of EpochMetrics
// <report>/metrics.jsonl  the same, as JSON lines with a "variant" field
// <report>/*.png          drawn by apps/imdb/plot_study.py from metrics.csv (matplotlib); when
//                         python or matplotlib is missing, report.md says the plots were skipped
// Left out: confidence intervals (one seed per variant; run the study twice to see the noise).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "apps/imdb/config.h"
#include "apps/imdb/metrics.h"

namespace loom::imdb {

struct VariantOutcome {
  std::string name;         // baseline, prefetch, fused, fp16, all, cuda_baseline, cuda_all
  std::string description;  // what it changes vs the baseline
  std::string status;       // ran | skipped | failed | interrupted
  std::string reason;       // why skipped / failed
  Config config;            // the resolved config it ran with
  std::vector<EpochMetrics> epochs;
  std::string precision;  // what it trained in (ImdbModel::describe_precision); "" = not run
};

struct StudyContext {
  std::string title = "IMDB sentiment: baseline vs optimized (loom)";
  std::string command;  // the command line that produced it
  std::string machine;  // CPU model, cores
  std::string devices;  // loom::cuda::device_report()
  std::string dataset;  // describe(PreparedData)
  std::string preset;   // describe_preset(...)
  std::string started_utc, finished_utc;
  double total_seconds = 0;
  std::string init;               // the initial weights every variant started from
  double target_accuracy = 0.83;  // time-to-accuracy's target (validation accuracy)
};

// Time-to-accuracy (MLPerf Training's metric): the first epoch whose validation accuracy reaches
// `target`, and the wall time spent until then (the sum of the epoch times up to and including
// it, validation included). Empty when no epoch reaches it.
struct TargetReached {
  int64_t epoch = 0;
  double seconds = 0;
};
std::optional<TargetReached> time_to_target(const std::vector<EpochMetrics>& epochs, double target);

// Means over a variant's epochs (0 when it has none).
double mean_epoch_time(const VariantOutcome& v);
double mean_data_time(const VariantOutcome& v);
double mean_wait_time(const VariantOutcome& v);

// Writes report.md, metrics.csv and metrics.jsonl into `dir` (created). `plots_note` is a line
// saying whether the plots were drawn (see draw_plots).
void write_report(const std::string& dir, const StudyContext& ctx,
                  const std::vector<VariantOutcome>& variants, const std::string& plots_note);

// Runs `python plot_script dir`; returns a note for report.md: which PNGs were drawn, or why the
// plots were skipped. Never throws.
std::string draw_plots(const std::string& python, const std::string& plot_script,
                       const std::string& dir);

// "Intel(R) Xeon(R) ... x 2 cores" from /proc/cpuinfo, or "unknown CPU".
std::string describe_machine();
// Now, as "2026-12-06 19:40:09 UTC" (the reports' started/finished lines).
std::string utc_now();

}  // namespace loom::imdb
