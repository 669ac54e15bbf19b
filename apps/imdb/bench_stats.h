// apps/imdb/bench_stats.h: the arithmetic of `imdb bench`: latency percentiles and the Poisson
// arrival schedule of the Server scenario (MLPerf LoadGen's rules, written out small).
//
// Percentiles are nearest-rank: the p-th percentile of n latencies is the ceil(p/100 * n)-th
// smallest (1-based), so at least p% of the queries took no longer; no interpolation, so the
// value is always a latency that was measured. Poisson arrivals at rate lambda have independent
// exponential gaps with mean 1/lambda, drawn from a seeded generator so a run can be repeated.
// Leaves out: LoadGen's early-stopping estimate and its minimum query counts per scenario (the
// bench's flags set the counts).
#pragma once

#include <cstdint>
#include <vector>

namespace loom::imdb {

// The nearest-rank p-th percentile (0 < p <= 100) of `values` (any order, at least one).
// Throws loom::Error for an empty list or p outside (0, 100].
double percentile(std::vector<double> values, double p);

struct LatencySummary {
  int64_t count = 0;
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;  // same unit as the input
};
LatencySummary summarize(const std::vector<double>& latencies);

// Arrival times (seconds from 0) of `count` queries at `rate` queries/s: a Poisson process.
std::vector<double> poisson_arrivals(double rate, int64_t count, uint64_t seed);

}  // namespace loom::imdb
