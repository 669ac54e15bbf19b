// apps/imdb/bench.h: the measurements of `imdb bench` (bench.cpp), for the commands that time
// several models in one run (`imdb study --inference`, inference_study.h).
//
// Each runs one MLPerf LoadGen scenario on an InferenceModel with real review texts as queries
// (cleaning and encoding inside the timed path), returns the JSON `imdb bench --json` writes for
// it, and sets `line` to the one-line summary. The arithmetic is bench_stats.h's.
// Leaves out: the server scenario (bench.cpp keeps it to itself: a study does not search rates).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/imdb/cli.h"
#include "apps/imdb/inference.h"

namespace loom::imdb {

// Up to `n` review texts no model was trained on (aclImdb's test half), or the last n rows of
// another dataset. Throws loom::Error naming `path` when there are none.
std::vector<std::string> load_query_texts(const std::string& path, int64_t n);

// The 1-minute load average from /proc/loadavg (-1 where there is none).
double load_average();

// One query at a time until b.queries queries and b.min_seconds seconds have both passed:
// {"latency": {count, mean_ms, p50_ms, p90_ms, p99_ms, max_ms}, "seconds", "metric", "value"}.
nlohmann::json single_stream(InferenceModel& model, const std::vector<std::string>& texts,
                             const BenchRequest& b, std::string& line);

// b.samples samples in one query, b.batch reviews per model call: {"samples", "batch",
// "seconds", "metric", "value" (samples/s)}.
nlohmann::json offline(InferenceModel& model, const std::vector<std::string>& texts,
                       const BenchRequest& b, std::string& line);

}  // namespace loom::imdb
