// apps/imdb/study.cpp: run_study, see study.h.
#include "apps/imdb/study.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/imdb/commands.h"
#include "apps/imdb/data_location.h"
#include "apps/imdb/model.h"
#include "apps/imdb/prepare.h"
#include "apps/imdb/progress.h"
#include "apps/imdb/report.h"
#include "apps/imdb/run_folder.h"
#include "apps/imdb/signals.h"
#include "apps/imdb/trainer.h"
#include "cuda/runtime/device.h"
#include "tensor/error.h"

#ifndef LOOM_IMDB_PLOT_SCRIPT
#define LOOM_IMDB_PLOT_SCRIPT "apps/imdb/plot_study.py"
#endif

namespace loom::imdb {
const std::vector<Variant>& study_variants() {
  static const std::vector<Variant> v = {
      {"baseline", "fp32, batches built inline, composed LSTM", [](Config&) {}, false},
      {"prefetch", "+ prefetch (a worker thread builds batches ahead)",
       [](Config& c) { c.prefetch = true; }, false},
      {"fused", "+ fused LSTM", [](Config& c) { c.lstm_impl = "fused"; }, false},
      // On the CPU, mixed precision means bf16: a CPU has no float16 arithmetic (fp16 there only
      // adds conversions), while AVX512_BF16 multiplies bf16 pairs at twice float32's rate. The
      // names stay (scripts and old reports use them); the report names the precision run.
      {"fp16", "+ mixed precision (bf16 on the CPU, no loss scaling)",
       [](Config& c) { c.precision = "bf16"; }, false},
      {"all",
       "prefetch + fused LSTM + mixed precision (bf16 GEMMs on the CPU; float32 cell state and "
       "master weights)",
       [](Config& c) {
         c.prefetch = true;
         c.lstm_impl = "fused";
         c.precision = "bf16";
       },
       false},
      // The same ablation on the GPU, plus the persistent LSTM (one kernel per sequence pass).
      {"cuda_baseline", "the baseline on the GPU", [](Config& c) { c.device = "cuda"; }, true},
      {"cuda_prefetch", "+ prefetch: batches built ahead and copied to the GPU during the step",
       [](Config& c) {
         c.device = "cuda";
         c.prefetch = true;
       },
       true},
      {"cuda_fused", "+ fused LSTM on the GPU",
       [](Config& c) {
         c.device = "cuda";
         c.lstm_impl = "fused";
       },
       true},
      {"cuda_persistent", "+ persistent LSTM on the GPU (fp32)",
       [](Config& c) {
         c.device = "cuda";
         c.lstm_impl = "persistent";
       },
       true},
      {"cuda_fp16", "+ fp16 mixed precision on the GPU",
       [](Config& c) {
         c.device = "cuda";
         c.precision = "fp16";
       },
       true},
      {"cuda_all", "prefetch + fused LSTM + fp16 on the GPU",
       [](Config& c) {
         c.device = "cuda";
         c.prefetch = true;
         c.lstm_impl = "fused";
         c.precision = "fp16";
       },
       true},
  };
  return v;
}

std::string skip_reason(const Variant& v, const Config& c) {
  if (v.needs_cuda) {
    if (!cuda::built_with_cuda()) return "this build has no CUDA backend (configured without nvcc)";
    if (cuda::device_count() == 0)
      return "no CUDA device on this machine (" + cuda::device_report() + ")";
  }
  std::string why;
  if (!ImdbModel::supports(c, &why)) return why;
  return "";
}

void check_variant_names(const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    bool known = false;
    std::string valid;
    for (const Variant& v : study_variants()) {
      known = known || v.name == n;
      valid += (valid.empty() ? "" : ", ") + v.name;
    }
    LOOM_CHECK(known, "--variants: unknown variant '", n, "' (valid: ", valid, ")");
  }
}

namespace {

// The variants the request selects, in the study's order.
std::vector<const Variant*> selected_variants(const StudyRequest& s) {
  std::vector<const Variant*> out;
  for (const Variant& v : study_variants())
    if (s.variants.empty() ||
        std::find(s.variants.begin(), s.variants.end(), v.name) != s.variants.end())
      out.push_back(&v);
  return out;
}

// Trains one variant into <base.out>/<name>; never throws (a failure is the outcome).
VariantOutcome run_variant(const Variant& v, const Config& base, const PreparedData& d) {
  VariantOutcome out;
  out.name = v.name;
  out.description = v.description;
  out.config = base;
  v.apply(out.config);
  out.config.out = base.out + "/" + v.name;
  if (stop_requested()) {
    out.status = "skipped";
    out.reason = std::string("the study was stopped by ") + signal_name(stop_signal());
    return out;
  }
  out.reason = skip_reason(v, out.config);
  if (!out.reason.empty()) {
    out.status = "skipped";
    std::printf("\n== %s: skipped: %s\n", v.name.c_str(), out.reason.c_str());
    return out;
  }
  out.precision = ImdbModel::describe_precision(out.config);
  std::printf("\n== %s: %s [%s] -> %s\n", v.name.c_str(), v.description.c_str(),
              out.precision.c_str(), out.config.out.c_str());
  std::fflush(stdout);
  try {
    prepare_output_folder(out.config);
    TrainOptions o;
    o.interactive = Progress::stdout_is_terminal();
    const TrainResult res = train_model(out.config, d, o);
    out.epochs = res.epochs;
    out.status = res.stopped ? "interrupted" : "ran";
  } catch (const std::exception& e) {
    out.status = "failed";
    out.reason = e.what();
    std::fprintf(stderr, "imdb study: variant %s failed: %s\n", v.name.c_str(), e.what());
  }
  return out;
}

}  // namespace

int run_study(const Request& r) {
  if (r.study.inference) return run_inference_study(r);
  const auto t0 = std::chrono::steady_clock::now();
  check_variant_names(r.study.variants);  // a typo must not cost a whole read of the data
  Config base = r.config;
  // The study decides these per variant; whatever the flags said, the baseline is the baseline.
  base.prefetch = false;
  base.lstm_impl = "composed";
  base.precision = "fp32";
  base.device = "cpu";
  base.resume = false;
  // One study per folder, and its variants' folders claimed up front, so an old study there
  // is refused (or deleted with --overwrite) before any work.
  const FolderUse use = r.overwrite ? FolderUse::Overwrite : FolderUse::Fresh;
  const RunFolder folder(base.out, use, stdout);
  std::vector<std::unique_ptr<RunFolder>> variant_folders;
  for (const Variant* v : selected_variants(r.study))
    variant_folders.push_back(std::make_unique<RunFolder>(base.out + "/" + v->name, use, stdout));
  apply_threads(base.threads);
  install_stop_handlers();

  StudyContext ctx;
  ctx.command = r.command_line;
  ctx.started_utc = utc_now();
  ctx.machine = describe_machine();
  ctx.devices = cuda::device_report();
  ctx.preset = describe_preset(base.preset);
  ctx.init = base.init;
  ctx.target_accuracy = base.target_accuracy;

  const std::string path = locate_data(base.data);
  base.data = path;
  const PreparedData d = prepare_data(base, path);
  validate_against_data(base, static_cast<int64_t>(d.split.train.size()));
  ctx.dataset = describe(d);
  std::printf("data: %s\n", ctx.dataset.c_str());
  prepare_output_folder(base);

  std::vector<VariantOutcome> outcomes;
  for (const Variant* v : selected_variants(r.study))
    outcomes.push_back(run_variant(*v, base, d));

  const std::string report_dir = base.out + "/report";
  ctx.finished_utc = utc_now();
  ctx.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_report(report_dir, ctx, outcomes, "Plots not drawn yet.");  // the CSV the plots read
  const std::string note = draw_plots(r.study.python, LOOM_IMDB_PLOT_SCRIPT, report_dir);
  write_report(report_dir, ctx, outcomes, note);
  std::printf("\nreport: %s/report.md (%.1f min)\n", report_dir.c_str(), ctx.total_seconds / 60);
  return 0;
}

}  // namespace loom::imdb
