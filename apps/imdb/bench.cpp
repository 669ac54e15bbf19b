// apps/imdb/bench.cpp: `imdb bench`, the latency benchmark with MLPerf LoadGen's scenarios.
//
//   single-stream  one query (one review) at a time, the next sent when the last returns; at
//                  least --queries queries and --min-seconds seconds; the metric is p90.
//   offline        every sample in one query (processed --batch reviews at a time); samples/s.
//   server         queries arrive as a Poisson process at a target rate and wait in line for one
//                  worker; a query's latency runs from its arrival to its answer. Without
//                  --rate, a bisection finds the highest rate whose p99 stays <= --latency-bound.
// A query is a real review's raw text: cleaning and encoding are inside the timed path. Queries
// are the official test half of aclImdb (reviews training never saw), or the last rows of
// another dataset. Writes --json and prints one summary line. The arithmetic: bench_stats.h.
// Leaves out: LoadGen's early stopping, accuracy mode (use eval), multi-stream.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "apps/imdb/bench.h"
#include "apps/imdb/bench_stats.h"
#include "apps/imdb/commands.h"
#include "apps/imdb/data_location.h"
#include "apps/imdb/inference.h"
#include "data/imdb_reader.h"
#include "data/readers.h"
#include "tensor/error.h"

namespace loom::imdb {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

nlohmann::json latency_json(const LatencySummary& s) {
  return {{"count", s.count},      {"mean_ms", s.mean * 1e3}, {"p50_ms", s.p50 * 1e3},
          {"p90_ms", s.p90 * 1e3}, {"p99_ms", s.p99 * 1e3},   {"max_ms", s.max * 1e3}};
}

}  // namespace

std::vector<std::string> load_query_texts(const std::string& path, int64_t n) {
  std::vector<std::string> texts;
  const bool archive = std::filesystem::is_directory(path) ||
                       path.find(".tar") != std::string::npos ||
                       path.find(".tgz") != std::string::npos;
  if (archive) {
    const data::ImdbArchive a(path);
    for (int64_t i = 0; i < a.size() && static_cast<int64_t>(texts.size()) < n; ++i)
      if (a.examples()[static_cast<size_t>(i)].split == data::Split::Test)
        texts.emplace_back(a.text(i));
  } else {
    const std::vector<data::TextExample> rows = data::read_text_dataset(path);
    for (size_t i = rows.size() > static_cast<size_t>(n) ? rows.size() - n : 0; i < rows.size();
         ++i)
      texts.push_back(rows[i].text);
  }
  LOOM_CHECK(!texts.empty(), "bench: no reviews to send in '", path, "'");
  return texts;
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double one = -1;
  in >> one;
  return one;
}

nlohmann::json single_stream(InferenceModel& model, const std::vector<std::string>& texts,
                             const BenchRequest& b, std::string& line) {
  std::vector<double> lat;
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0;; ++i) {
    if (i >= b.queries && seconds_between(start, Clock::now()) >= b.min_seconds) break;
    const std::string& text = texts[static_cast<size_t>(i) % texts.size()];
    const Clock::time_point t0 = Clock::now();
    volatile float p = model.predict_text(text);
    (void)p;
    lat.push_back(seconds_between(t0, Clock::now()));
  }
  const double seconds = seconds_between(start, Clock::now());
  const LatencySummary s = summarize(lat);
  char buf[256];
  std::snprintf(buf, sizeof buf, "p90 %.3f ms (p50 %.3f, p99 %.3f) over %lld queries in %.1f s",
                s.p90 * 1e3, s.p50 * 1e3, s.p99 * 1e3, static_cast<long long>(s.count), seconds);
  line = buf;
  return {{"latency", latency_json(s)},
          {"seconds", seconds},
          {"metric", "p90_ms"},
          {"value", s.p90 * 1e3}};
}

nlohmann::json offline(InferenceModel& model, const std::vector<std::string>& texts,
                       const BenchRequest& b, std::string& line) {
  const int64_t n = b.samples;
  std::vector<std::string_view> views;
  std::vector<float> probs(static_cast<size_t>(b.batch));
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0; i < n; i += b.batch) {
    const int64_t rows = std::min(b.batch, n - i);
    views.clear();
    for (int64_t k = 0; k < rows; ++k)
      views.emplace_back(texts[static_cast<size_t>(i + k) % texts.size()]);
    model.predict_texts(views, probs.data());
  }
  const double seconds = seconds_between(start, Clock::now());
  const double rate = static_cast<double>(n) / seconds;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%.0f samples/s (%lld samples, batch %lld, %.2f s)", rate,
                static_cast<long long>(n), static_cast<long long>(b.batch), seconds);
  line = buf;
  return {{"samples", n},
          {"batch", b.batch},
          {"seconds", seconds},
          {"metric", "samples_per_s"},
          {"value", rate}};
}

namespace {

// `count` Poisson arrivals at `rate`, one worker: latency = answer time - arrival time.
LatencySummary server_run(InferenceModel& model, const std::vector<std::string>& texts, double rate,
                          int64_t count, uint64_t seed) {
  const std::vector<double> arrivals = poisson_arrivals(rate, count, seed);
  std::vector<double> lat;
  lat.reserve(arrivals.size());
  const Clock::time_point start = Clock::now();
  for (size_t i = 0; i < arrivals.size(); ++i) {
    const Clock::time_point due = start + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(arrivals[i]));
    std::this_thread::sleep_until(due);  // returns at once when the worker is behind
    volatile float p = model.predict_text(texts[i % texts.size()]);
    (void)p;
    lat.push_back(seconds_between(due, Clock::now()));
  }
  return summarize(lat);
}

nlohmann::json server(InferenceModel& model, const std::vector<std::string>& texts,
                      const BenchRequest& b, std::string& line) {
  const double bound = b.latency_bound_ms * 1e-3;
  nlohmann::json probes = nlohmann::json::array();
  auto probe = [&](double rate) {
    const LatencySummary s = server_run(model, texts, rate, b.queries, b.seed);
    probes.push_back({{"rate_qps", rate}, {"latency", latency_json(s)}});
    return s.p99 <= bound;
  };
  double best = 0;
  if (b.rate > 0) {
    best = probe(b.rate) ? b.rate : 0;
  } else {  // bisection between 0 and the rate one worker could serve back to back
    std::vector<double> service;
    for (int i = 0; i < 64; ++i) {
      const Clock::time_point t0 = Clock::now();
      volatile float p = model.predict_text(texts[static_cast<size_t>(i) % texts.size()]);
      (void)p;
      service.push_back(seconds_between(t0, Clock::now()));
    }
    double lo = 0, hi = 1.0 / summarize(service).mean;
    for (int step = 0; step < b.search_steps; ++step) {
      const double mid = 0.5 * (lo + hi);
      (probe(mid) ? lo : hi) = mid;
    }
    best = lo;
  }
  char buf[256];
  std::snprintf(buf, sizeof buf, "%.0f queries/s with p99 <= %.2f ms (%zu probes of %lld queries)",
                best, b.latency_bound_ms, probes.size(), static_cast<long long>(b.queries));
  line = buf;
  return {{"latency_bound_ms", b.latency_bound_ms},
          {"probes", probes},
          {"metric", "max_rate_qps"},
          {"value", best}};
}

}  // namespace

int run_bench(const Request& r) {
  const BenchRequest& b = r.bench;
  const Checkpoint ck = load_checkpoint(b.checkpoint);
  LOOM_CHECK(b.model.empty() || b.model == ck.config.model, "--model ", b.model, ": ", b.checkpoint,
             " holds a ", ck.config.model, " model");
  apply_threads(r.config.threads);
  InferenceOptions o;
  o.device = Device(r.config.device);
  o.fold = !b.no_fold;
  o.reference = b.reference;
  o.int8_convolutions = b.int8;
  o.text_threads = static_cast<int>(r.config.threads);  // 0: all cores
  InferenceModel model(ck, b.checkpoint, o);
  const std::string data_path = locate_data(r.config.data.empty() ? ck.config.data : r.config.data);
  const std::vector<std::string> texts =
      load_query_texts(data_path, b.scenario == "offline" ? b.samples : 25000);
  for (int i = 0; i < 32; ++i)  // warm the workspace and the caches
    model.predict_text(texts[static_cast<size_t>(i) % texts.size()]);
  const double load_before = load_average();
  std::string line;
  nlohmann::json j = b.scenario == "single-stream" ? single_stream(model, texts, b, line)
                     : b.scenario == "offline"     ? offline(model, texts, b, line)
                                                   : server(model, texts, b, line);
  j["scenario"] = b.scenario;
  j["checkpoint"] = b.checkpoint;
  j["model"] = model.describe();
  j["threads"] = r.config.threads;
  j["query_reviews"] = texts.size();
  j["load_average_1min"] = {load_before, load_average()};
  std::printf("bench %s: %s [%s]\n", b.scenario.c_str(), line.c_str(), model.describe().c_str());
  if (!b.json_out.empty()) {
    std::ofstream out(b.json_out);
    LOOM_CHECK(out.good(), "--json: cannot write '", b.json_out, "'");
    out << j.dump(2) << "\n";
  }
  return 0;
}

}  // namespace loom::imdb
