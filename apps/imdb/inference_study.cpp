// apps/imdb/inference_study.cpp: run_inference_study, see inference_study.h.
//
// Model bytes: the bytes of the tensors a served copy holds (the checkpoint's tensors without
// the optimizer state; int8 weights plus their scales for the int8 rows). PyTorch's fp32 row
// counts its state_dict's tensors the same way; its int8 row reports the size of its torch.save
// file, since quantize_dynamic packs the weights into objects that are not plain tensors.
#include "apps/imdb/inference_study.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <utility>

#include "apps/imdb/bench.h"
#include "apps/imdb/checkpoint.h"
#include "apps/imdb/commands.h"
#include "apps/imdb/data_location.h"
#include "apps/imdb/evaluate.h"
#include "apps/imdb/inference.h"
#include "apps/imdb/prepare.h"
#include "apps/imdb/quantize.h"
#include "apps/imdb/report.h"
#include "nn/serialize.h"
#include "tensor/error.h"
#include "tensor/ops.h"

#ifndef LOOM_IMDB_INFERENCE_PLOT_SCRIPT
#define LOOM_IMDB_INFERENCE_PLOT_SCRIPT "apps/imdb/plot_inference_study.py"
#endif
#ifndef LOOM_TORCH_INFERENCE_SCRIPT
#define LOOM_TORCH_INFERENCE_SCRIPT "tests/reference/torch_inference_bench.py"
#endif

namespace loom::imdb {

nlohmann::json to_json(const InferenceRow& r) {
  return {{"name", r.name},
          {"description", r.description},
          {"status", r.status},
          {"reason", r.reason},
          {"checkpoint", r.checkpoint},
          {"model", r.model},
          {"accuracy", r.accuracy},
          {"scored", r.scored},
          {"model_bytes", r.model_bytes},
          {"p50_ms", r.p50_ms},
          {"p90_ms", r.p90_ms},
          {"p99_ms", r.p99_ms},
          {"queries", r.queries},
          {"offline_per_s", r.offline_per_s},
          {"load_average", r.load_average}};
}

namespace {

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  LOOM_CHECK(out.good(), "study --inference: cannot write '", path, "'");
}

// The rows every model is scored on, encoded once per max_len (a student may read fewer
// tokens). Every encoding uses the fp32 checkpoint's config and vocabulary, so the split, and
// so the rows, are the same for every model.
struct ScoringData {
  Config config;
  data::Vocabulary vocab;
  std::string path;
  std::vector<int64_t> rows;
  std::map<int64_t, PreparedData> by_len;

  const PreparedData& encoded(int64_t max_len) {
    auto it = by_len.find(max_len);
    if (it != by_len.end()) return it->second;
    Config c = config;
    c.max_len = max_len;
    return by_len.emplace(max_len, prepare_data(c, path, &vocab)).first->second;
  }
};

ScoringData scoring_data(const Checkpoint& ck, const Request& r) {
  const StudyRequest& q = r.study;
  ScoringData s;
  s.config = ck.config;
  s.vocab = ck.vocab;
  s.path = locate_data(r.was_given("data") ? r.config.data : ck.config.data);
  s.config.data = s.path;
  s.config.val_limit = 0;
  if (q.on == "test") s.config.split = "none";
  const PreparedData& d = s.encoded(ck.config.max_len);
  if (q.on == "val") {
    s.rows = d.split.validation;
  } else {
    for (int64_t i = 0; i < d.rows; ++i)
      if (d.official[static_cast<size_t>(i)] == data::Split::Test) s.rows.push_back(i);
    LOOM_CHECK(!s.rows.empty(), "--on test: '", s.path, "' has no official test half");
  }
  if (q.eval_limit > 0 && static_cast<int64_t>(s.rows.size()) > q.eval_limit)
    s.rows.resize(static_cast<size_t>(q.eval_limit));
  LOOM_CHECK(!s.rows.empty(), "study --inference: no ", q.on, " rows to score in '", s.path, "'");
  std::printf("data: %s; scoring %zu %s rows\n", describe(d).c_str(), s.rows.size(), q.on.c_str());
  return s;
}

// What the study measures with, shared by every row.
struct StudySetup {
  const StudyRequest* q = nullptr;
  int64_t threads = 1;  // offline and scoring (resolved: never 0)
  std::string out;
  ScoringData data;
  std::vector<std::string> texts;  // single-stream and offline queries
};

BenchRequest bench_settings(const StudyRequest& q) {
  BenchRequest b;
  b.queries = q.queries;
  b.min_seconds = q.min_seconds;
  b.samples = q.samples;
  b.batch = q.offline_batch;
  return b;
}

// Accuracy, bytes, single-stream (1 thread) and offline (setup.threads) of one loom checkpoint.
void measure_loom(InferenceRow& row, StudySetup& setup) {
  const Checkpoint ck = load_checkpoint(row.checkpoint);
  LOOM_CHECK(ck.vocab.words() == setup.data.vocab.words(), row.checkpoint,
             ": its vocabulary is not the --checkpoint's (the rows would be scored wrongly)");
  row.model_bytes = static_cast<int64_t>(model_bytes(ck.file));
  InferenceOptions o;
  o.text_threads = static_cast<int>(setup.threads);
  InferenceModel model(ck, row.checkpoint, o);
  row.model = model.describe();
  apply_threads(setup.threads);
  const PreparedData& d = setup.data.encoded(ck.config.max_len);
  const Classification cls = classify(score_rows_inference(model, d, setup.data.rows, 500));
  row.accuracy = cls.accuracy;
  row.scored = cls.n;
  const BenchRequest b = bench_settings(*setup.q);
  apply_threads(1);
  for (int i = 0; i < 32; ++i)  // warm the workspace and the caches
    model.predict_text(setup.texts[static_cast<size_t>(i) % setup.texts.size()]);
  row.load_average = load_average();
  std::string line;
  const nlohmann::json ss = single_stream(model, setup.texts, b, line);
  std::printf("  single-stream: %s\n", line.c_str());
  const nlohmann::json& lat = ss.at("latency");
  row.p50_ms = lat.at("p50_ms").get<double>();
  row.p90_ms = lat.at("p90_ms").get<double>();
  row.p99_ms = lat.at("p99_ms").get<double>();
  row.queries = lat.at("count").get<int64_t>();
  apply_threads(setup.threads);
  const nlohmann::json off = offline(model, setup.texts, b, line);
  std::printf("  offline: %s\n", line.c_str());
  row.offline_per_s = off.at("value").get<double>();
  row.status = "ran";
}

// The int8 copy of `fp32_path`, written beside the report.
std::string quantized_copy(const std::string& fp32_path, const std::string& out) {
  const nn::SafetensorsContents q = quantize_checkpoint(load_checkpoint(fp32_path), fp32_path);
  nn::save_safetensors(out, q.tensors, q.metadata);
  return out;
}

// `imdb prune --structured --sparsity 0.5` and `imdb distill --lstm-size N` as the study's steps.
std::string make_pruned(const StudySetup& setup, const std::string& data_path) {
  Request p;
  p.command = "prune";
  p.prune.checkpoint = setup.q->checkpoint;
  p.prune.out = setup.out + "/pruned50.safetensors";
  p.prune.json_out = setup.out + "/pruned50.json";
  p.prune.sparsity = 0.5;
  p.prune.structured = true;
  p.prune.finetune_epochs = setup.q->finetune_epochs;
  p.config.threads = setup.threads;
  p.config.data = data_path;
  std::printf("\n== making the pruned row: imdb prune --structured --sparsity 0.5\n");
  run_prune(p);
  return p.prune.out;
}

std::string make_student(const StudySetup& setup, const std::string& data_path) {
  Request d;
  d.command = "distill";
  d.distill.teacher = setup.q->checkpoint;
  d.distill.out = setup.out + "/student.safetensors";
  d.distill.json_out = setup.out + "/student.json";
  d.config.lstm_size = setup.q->student_size;
  d.config.epochs = std::max<int64_t>(1, setup.q->finetune_epochs);
  d.given = {"epochs"};
  d.config.threads = setup.threads;
  d.config.data = data_path;
  std::printf("\n== making the student row: imdb distill --lstm-size %lld\n",
              static_cast<long long>(setup.q->student_size));
  run_distill(d);
  return d.distill.out;
}

// Runs one loom row; a failure is the row's outcome, not the study's.
void run_row(InferenceRow& row, StudySetup& setup) {
  if (row.checkpoint.empty()) {
    std::printf("\n== %s: skipped: %s\n", row.name.c_str(), row.reason.c_str());
    return;
  }
  std::printf("\n== %s: %s (%s)\n", row.name.c_str(), row.description.c_str(),
              row.checkpoint.c_str());
  try {
    measure_loom(row, setup);
  } catch (const std::exception& e) {
    row.status = "failed";
    row.reason = e.what();
    std::fprintf(stderr, "imdb study: row %s failed: %s\n", row.name.c_str(), e.what());
  }
}

// The scored rows as a safetensors file PyTorch's script reads: tokens I32 [n, T], labels F32.
std::string write_eval_rows(StudySetup& setup) {
  const PreparedData& d = setup.data.encoded(setup.data.config.max_len);
  const int64_t n = static_cast<int64_t>(setup.data.rows.size()), T = d.max_len;
  std::vector<int32_t> tokens;
  std::vector<float> labels;
  for (int64_t r : setup.data.rows) {
    tokens.insert(tokens.end(), d.tokens.begin() + r * T, d.tokens.begin() + (r + 1) * T);
    labels.push_back(d.labels[static_cast<size_t>(r)]);
  }
  const std::string path = setup.out + "/eval_rows.safetensors";
  nn::save_safetensors(path, {nn::tensor_to_record("tokens", from_vector<int32_t>(tokens, {n, T})),
                              nn::tensor_to_record("labels", from_vector<float>(labels, {n}))});
  return path;
}

// The last non-empty line of a file (a Python traceback's message), for a row's reason.
std::string last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

void fill_torch_row(InferenceRow& row, const nlohmann::json& j, const std::string& key) {
  row.status = "ran";
  row.model = "PyTorch " + j.value("torch", std::string("?")) + ", forward on token ids";
  row.accuracy = j.value(key + "_accuracy", 0.0);
  row.scored = j.value("scored", int64_t{0});
  row.model_bytes = j.value(key + "_model_bytes", int64_t{0});
  const nlohmann::json& ss = j.at(key + "_single_stream");
  row.p50_ms = ss.at("p50_ms").get<double>();
  row.p90_ms = ss.at("p90_ms").get<double>();
  row.p99_ms = ss.at("p99_ms").get<double>();
  row.queries = ss.at("count").get<int64_t>();
  row.offline_per_s = j.at(key + "_offline").at("samples_per_s").get<double>();
}

// PyTorch's two rows from one run of its script; skipped (with the reason) without python or
// torch, failed when the script fails otherwise.
void run_torch_rows(InferenceRow& fp32, InferenceRow& int8, StudySetup& setup) {
  const StudyRequest& q = *setup.q;
  auto skip_both = [&](const std::string& status, const std::string& why) {
    fp32.status = int8.status = status;
    fp32.reason = int8.reason = why;
    std::printf("\n== torch_fp32, torch_int8: %s: %s\n", status.c_str(), why.c_str());
  };
  if (q.no_torch) return skip_both("skipped", "--no-torch");
  if (!std::filesystem::exists(q.python)) return skip_both("skipped", q.python + " is missing");
  const std::string script = LOOM_TORCH_INFERENCE_SCRIPT;
  if (!std::filesystem::exists(script)) return skip_both("skipped", script + " is missing");
  const std::string json = setup.out + "/torch.json", log = setup.out + "/torch.log";
  // A python without a working torch (none, or one that fails to import) skips the rows; a
  // script that fails after torch imported is a failure of the row, reported as such.
  const std::string probe = "'" + q.python + "' -c 'import torch' > '" + log + "' 2>&1";
  if (std::system(probe.c_str()) != 0)
    return skip_both("skipped", q.python + " cannot import torch: " + last_line(log));
  std::printf("\n== torch_fp32, torch_int8: PyTorch on the same weights (%s)\n", script.c_str());
  std::fflush(stdout);
  std::ostringstream cmd;
  cmd << "'" << q.python << "' '" << script << "' '" << q.checkpoint << "' --threads 1"
      << " --offline-threads " << setup.threads << " --int8 --scenarios single-stream,offline"
      << " --queries " << q.queries << " --min-seconds " << q.min_seconds << " --offline-samples "
      << q.samples << " --offline-batch " << q.offline_batch << " --eval '"
      << write_eval_rows(setup) << "' > '" << json << "' 2> '" << log << "'";
  fp32.load_average = int8.load_average = load_average();
  if (std::system(cmd.str().c_str()) != 0)
    return skip_both("failed", "the script failed (" + log + "): " + last_line(log));
  try {
    const nlohmann::json j = nlohmann::json::parse(std::ifstream(json));
    fill_torch_row(fp32, j, "fp32");
    fill_torch_row(int8, j, "int8");
  } catch (const std::exception& e) {
    skip_both("failed", json + ": " + e.what());
  }
}

std::vector<InferenceRow> study_rows(const StudyRequest& q) {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"fp32", "loom fp32 (the --checkpoint)"},
      {"int8", "loom int8 dynamic quantization of it"},
      {"pruned", "loom fp32, structured-pruned"},
      {"student", "loom fp32, distilled student"},
      {"student_int8", "loom int8 of the distilled student"},
      {"torch_fp32", "PyTorch fp32 on the same weights"},
      {"torch_int8", "PyTorch quantize_dynamic int8 of it"}};
  std::vector<InferenceRow> rows(table.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].name = table[i].first;
    rows[i].description = table[i].second;
  }
  rows[0].checkpoint = q.checkpoint;
  rows[2].checkpoint = q.pruned;
  rows[3].checkpoint = q.student;
  rows[2].reason = "not given (--pruned) and not made (add --make-missing: it trains)";
  rows[3].reason = "not given (--student) and not made (add --make-missing: it trains)";
  rows[4].reason = "no student row";
  return rows;
}

}  // namespace

std::string inference_report_markdown(const std::vector<InferenceRow>& rows,
                                      const nlohmann::json& ctx) {
  std::ostringstream md;
  md << "# IMDB sentiment: serving the model (loom `imdb study --inference`)\n\n"
     << "`" << ctx.value("command", std::string()) << "`\n\n"
     << "Started " << ctx.value("started_utc", std::string()) << " on "
     << ctx.value("machine", std::string()) << "; checkpoint `"
     << ctx.value("checkpoint", std::string()) << "`, data `" << ctx.value("data", std::string())
     << "`. Accuracy on the " << ctx.value("split", std::string("val"))
     << " rows; single-stream: batch 1 on 1 thread, at least " << ctx.value("queries", 0)
     << " queries and " << ctx.value("min_seconds", 0.0)
     << " s per row; offline: " << ctx.value("samples", 0) << " reviews in batches of "
     << ctx.value("offline_batch", 0) << " on " << ctx.value("threads", 0) << " threads.\n\n"
     << "| row | accuracy | model bytes | p50 ms | p90 ms | p99 ms | p90 / loom fp32 | offline "
        "reviews/s | load |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  const double base_p90 = rows.empty() || rows[0].status != "ran" ? 0 : rows[0].p90_ms;
  for (const InferenceRow& r : rows) {
    if (r.status != "ran") continue;
    md << "| " << r.name << " | " << format("%.2f%%", 100 * r.accuracy) << " (" << r.scored
       << ") | " << r.model_bytes << " | " << format("%.3f", r.p50_ms) << " | "
       << format("%.3f", r.p90_ms) << " | " << format("%.3f", r.p99_ms) << " | "
       << (base_p90 > 0 ? format("%.3fx", r.p90_ms / base_p90) : "") << " | "
       << format("%.0f", r.offline_per_s) << " | " << format("%.2f", r.load_average) << " |\n";
  }
  md << "\n";
  for (const InferenceRow& r : rows)
    md << "- **" << r.name << "**: " << r.description
       << (r.status == "ran" ? " [" + r.model + "]" : ": " + r.status + ", " + r.reason) << "\n";
  md << "\n"
     << ctx.value("plots", std::string()) << "\n\n"
     << "How to read it: loom's latencies include cleaning and encoding the review text, "
        "PyTorch's are the forward alone on token ids. Model bytes are the weights a served copy "
        "holds (loom: the checkpoint's tensors without optimizer state, int8 weights with their "
        "scales; PyTorch fp32: its state_dict's tensors; PyTorch int8: its torch.save file). "
        "Load is the 1-minute load average when the row's timings began: above the core count "
        "every time stretches, so compare rows of one run, and rerun on a quiet machine before "
        "quoting a ratio.\n";
  return md.str();
}

int run_inference_study(const Request& r) {
  const StudyRequest& q = r.study;
  StudySetup setup;
  setup.q = &q;
  setup.threads = r.config.threads > 0 ? r.config.threads
                                       : std::max<int64_t>(1, std::thread::hardware_concurrency());
  setup.out = r.config.out;
  std::error_code ec;
  std::filesystem::create_directories(setup.out, ec);
  LOOM_CHECK(!ec, "--out: cannot create '", setup.out, "': ", ec.message());
  nlohmann::json ctx = {{"command", r.command_line},
                        {"started_utc", utc_now()},
                        {"machine", describe_machine()},
                        {"checkpoint", q.checkpoint},
                        {"split", q.on},
                        {"threads", setup.threads},
                        {"queries", q.queries},
                        {"min_seconds", q.min_seconds},
                        {"samples", q.samples},
                        {"offline_batch", q.offline_batch}};
  const Checkpoint ck = load_checkpoint(q.checkpoint);
  LOOM_CHECK(!is_quantized(ck), q.checkpoint, ": --checkpoint must be float32 (the study makes ",
             "the int8 rows itself)");
  for (const std::string* f : {&q.pruned, &q.student})
    LOOM_CHECK(f->empty() || std::filesystem::exists(*f), "study --inference: no file '", *f, "'");
  setup.data = scoring_data(ck, r);
  ctx["data"] = setup.data.path;
  setup.texts = load_query_texts(setup.data.path, std::max<int64_t>(q.queries, q.samples));
  std::vector<InferenceRow> rows = study_rows(q);
  if (q.make_missing && q.pruned.empty()) rows[2].checkpoint = make_pruned(setup, setup.data.path);
  if (q.make_missing && q.student.empty())
    rows[3].checkpoint = make_student(setup, setup.data.path);
  rows[1].checkpoint = quantized_copy(q.checkpoint, setup.out + "/int8.safetensors");
  if (!rows[3].checkpoint.empty())
    rows[4].checkpoint =
        quantized_copy(rows[3].checkpoint, setup.out + "/student_int8.safetensors");
  for (size_t i = 0; i < 5; ++i)
    run_row(rows[i], setup);
  if (rows[2].status == "ran") {
    const Checkpoint p = load_checkpoint(rows[2].checkpoint);
    rows[2].description += ": " + std::to_string(p.config.lstm_size) + " of " +
                           std::to_string(ck.config.lstm_size) + " hidden units kept";
  }
  run_torch_rows(rows[5], rows[6], setup);

  nlohmann::json report = {{"context", ctx}, {"rows", nlohmann::json::array()}};
  for (const InferenceRow& row : rows)
    report["rows"].push_back(to_json(row));
  const std::string json_path = setup.out + "/report.json";
  write_text(json_path, report.dump(2) + "\n");  // what the plot script reads
  ctx["plots"] = draw_plots(q.python, LOOM_IMDB_INFERENCE_PLOT_SCRIPT, setup.out);
  ctx["finished_utc"] = utc_now();
  report["context"] = ctx;
  write_text(json_path, report.dump(2) + "\n");
  write_text(setup.out + "/report.md", inference_report_markdown(rows, ctx));
  std::printf("\nreport: %s/report.md\n", setup.out.c_str());
  return 0;
}

}  // namespace loom::imdb
