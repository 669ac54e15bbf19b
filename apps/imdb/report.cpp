// apps/imdb/report.cpp: see report.h.
#include "apps/imdb/report.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tensor/error.h"

namespace loom::imdb {
namespace {

template <typename F>
double mean_of(const VariantOutcome& v, F&& field) {
  if (v.epochs.empty()) return 0;
  double s = 0;
  for (const EpochMetrics& m : v.epochs)
    s += field(m);
  return s / static_cast<double>(v.epochs.size());
}

std::string fixed(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, x);
  return buf;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  LOOM_CHECK(out.good(), "cannot write '", path, "'");
  out << text;
  LOOM_CHECK(out.good(), "error writing '", path, "'");
}

}  // namespace

double mean_epoch_time(const VariantOutcome& v) {
  return mean_of(v, [](const EpochMetrics& m) { return m.epoch_time_s; });
}
double mean_data_time(const VariantOutcome& v) {
  return mean_of(v, [](const EpochMetrics& m) { return m.data_time_s; });
}
double mean_wait_time(const VariantOutcome& v) {
  return mean_of(v, [](const EpochMetrics& m) { return m.wait_time_s; });
}

std::optional<TargetReached> time_to_target(const std::vector<EpochMetrics>& epochs,
                                            double target) {
  double seconds = 0;
  for (const EpochMetrics& m : epochs) {
    seconds += m.epoch_time_s;
    if (m.val_acc >= target) return TargetReached{m.epoch, seconds};
  }
  return std::nullopt;
}

namespace {

// The time-to-accuracy table: per variant the epochs and seconds until the target, and both
// speedups against the baseline: per epoch (what the kernels buy) and to the target (what a user
// waits for, which the initial weights and the model move as much as any kernel).
void write_time_to_accuracy(std::ostringstream& md, const StudyContext& ctx,
                            const std::vector<VariantOutcome>& variants,
                            const VariantOutcome* base) {
  md << "\n## Time to accuracy\n\n";
  md << "Target: validation accuracy >= " << fixed(100 * ctx.target_accuracy, 1)
     << "% (`--target-accuracy`); time = the epochs' wall time until the first epoch that "
        "reaches it. Initial weights: "
     << ctx.init << ".\n\n";
  md << "| variant | epochs to target | time to target | speedup per epoch | speedup to target |\n";
  md << "|---|---:|---:|---:|---:|\n";
  const std::optional<TargetReached> base_hit =
      base ? time_to_target(base->epochs, ctx.target_accuracy) : std::nullopt;
  for (const VariantOutcome& v : variants) {
    if ((v.status != "ran" && v.status != "interrupted") || v.epochs.empty()) continue;
    const std::optional<TargetReached> hit = time_to_target(v.epochs, ctx.target_accuracy);
    md << "| " << v.name << " | ";
    if (hit)
      md << hit->epoch << " | " << fixed(hit->seconds, 1) << " s | ";
    else
      md << "not reached in " << v.epochs.size() << " | n/a | ";
    md << (base && mean_epoch_time(v) > 0
               ? fixed(mean_epoch_time(*base) / mean_epoch_time(v), 2) + "x"
               : std::string("n/a"))
       << " | "
       << (hit && base_hit ? fixed(base_hit->seconds / hit->seconds, 2) + "x" : std::string("n/a"))
       << " |\n";
  }
}

}  // namespace

void write_report(const std::string& dir, const StudyContext& ctx,
                  const std::vector<VariantOutcome>& variants, const std::string& plots_note) {
  std::filesystem::create_directories(dir);

  // metrics.csv / metrics.jsonl: every epoch of every variant that produced any.
  std::ostringstream csv, jsonl;
  csv << "variant,epoch,epoch_time_s,data_time_s,wait_time_s,train_loss,train_acc,val_loss,"
         "val_acc,lr,loss_scale,skipped_steps,samples_per_s,best\n";
  for (const VariantOutcome& v : variants) {
    for (const EpochMetrics& m : v.epochs) {
      csv << v.name << ',' << m.epoch << ',' << m.epoch_time_s << ',' << m.data_time_s << ','
          << m.wait_time_s << ',' << m.train_loss << ',' << m.train_acc << ',' << m.val_loss << ','
          << m.val_acc << ',' << m.lr << ',' << (m.fp16 ? std::to_string(m.loss_scale) : "") << ','
          << m.skipped_steps << ',' << m.samples_per_s << ',' << (m.best ? 1 : 0) << '\n';
      nlohmann::json j = to_json(m);
      j["variant"] = v.name;
      jsonl << j.dump() << '\n';
    }
  }
  write_file(dir + "/metrics.csv", csv.str());
  write_file(dir + "/metrics.jsonl", jsonl.str());

  const VariantOutcome* base = nullptr;
  for (const VariantOutcome& v : variants)
    if (v.name == "baseline" && v.status == "ran" && !v.epochs.empty()) base = &v;

  std::ostringstream md;
  md << "# " << ctx.title << "\n\n";
  md << "- command: `" << ctx.command << "`\n";
  md << "- started " << ctx.started_utc << ", finished " << ctx.finished_utc << " ("
     << fixed(ctx.total_seconds / 60.0, 1) << " min in all, data preparation included)\n";
  md << "- machine: " << ctx.machine << "\n";
  md << "- devices: " << ctx.devices << "\n";
  md << "- data: " << ctx.dataset << "\n";
  md << "- preset: " << ctx.preset << "\n\n";

  md << "## Results\n\n";
  md << "Times are means over the epochs each variant ran (seconds). Data = building training "
        "batches; wait = time the training loop was blocked for a batch. Speedup = baseline mean "
        "epoch time / variant mean epoch time. Accuracy change is in percentage points of "
        "final validation accuracy vs the baseline.\n\n";
  md << "| variant | changes | precision | epochs | epoch time | data time | wait time | train acc "
        "| val acc | speedup | val acc change |\n";
  md << "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const VariantOutcome& v : variants) {
    if (v.status != "ran" && v.status != "interrupted") continue;
    if (v.epochs.empty()) continue;
    const EpochMetrics& last = v.epochs.back();
    md << "| " << v.name << (v.status == "interrupted" ? " (interrupted)" : "") << " | "
       << v.description << " | " << (v.precision.empty() ? v.config.precision : v.precision)
       << " | " << v.epochs.size() << " | " << fixed(mean_epoch_time(v), 2) << " | "
       << fixed(mean_data_time(v), 3) << " | " << fixed(mean_wait_time(v), 3) << " | "
       << fixed(100 * last.train_acc, 2) << "% | " << fixed(100 * last.val_acc, 2) << "% | ";
    if (base != nullptr && mean_epoch_time(v) > 0) {
      md << fixed(mean_epoch_time(*base) / mean_epoch_time(v), 2) << "x | ";
      const double d = 100 * (last.val_acc - base->epochs.back().val_acc);
      md << (d >= 0 ? "+" : "") << fixed(d, 2) << " |\n";
    } else {
      md << "n/a | n/a |\n";
    }
  }
  write_time_to_accuracy(md, ctx, variants, base);
  bool any_skipped = false;
  for (const VariantOutcome& v : variants)
    if (v.status == "skipped" || v.status == "failed") any_skipped = true;
  if (any_skipped) {
    md << "\n### Not run\n\n";
    for (const VariantOutcome& v : variants)
      if (v.status == "skipped" || v.status == "failed")
        md << "- **" << v.name << "** (" << v.description << "): " << v.status << ": " << v.reason
           << "\n";
  }
  md << "\n## Plots\n\n" << plots_note << "\n";
  for (const char* png : {"epoch_time.png", "accuracy.png", "data_time.png"})
    if (std::filesystem::exists(dir + "/" + png)) md << "\n![" << png << "](" << png << ")\n";
  md << "\n## Files\n\n- `metrics.csv`, `metrics.jsonl`: every epoch of every variant\n"
        "- `../<variant>/`: each variant's own run folder (config.json, metrics.jsonl, "
        "checkpoints)\n";
  write_file(dir + "/report.md", md.str());
}

std::string draw_plots(const std::string& python, const std::string& plot_script,
                       const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::exists(plot_script)) return "Plots skipped: the script " + plot_script + " is missing.";
  if (!fs::exists(python)) return "Plots skipped: " + python + " is not installed.";
  const std::string log = dir + "/plot.log";
  const std::string cmd =
      "'" + python + "' '" + plot_script + "' '" + dir + "' > '" + log + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  std::string out = text.str();
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  if (rc != 0) return "Plots skipped: `" + python + " " + plot_script + "` failed: " + out;
  return "Plots drawn by apps/imdb/" + fs::path(plot_script).filename().string() + " (" + out +
         ").";
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
  return buf;
}

std::string describe_machine() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) model = line.substr(colon + 2);
      break;
    }
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " hardware threads";
}

}  // namespace loom::imdb
