// apps/imdb/bench_stats.cpp: see bench_stats.h.
#include "apps/imdb/bench_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "tensor/error.h"

namespace loom::imdb {

double percentile(std::vector<double> values, double p) {
  LOOM_CHECK(!values.empty(), "percentile: no values");
  LOOM_CHECK(p > 0 && p <= 100, "percentile: p must be in (0, 100], got ", p);
  const auto n = static_cast<int64_t>(values.size());
  // ceil(p/100 * n) in integers where possible: p * n / 100 computed in double can land a hair
  // above an integer (90 * 10 / 100 = 9.000000000000002) and round up one rank too far.
  const double exact = p * static_cast<double>(n) / 100.0;
  int64_t rank = static_cast<int64_t>(std::ceil(exact - 1e-9 * std::max(1.0, exact)));
  rank = std::clamp<int64_t>(rank, 1, n);
  std::nth_element(values.begin(), values.begin() + (rank - 1), values.end());
  return values[static_cast<size_t>(rank - 1)];
}

LatencySummary summarize(const std::vector<double>& latencies) {
  LatencySummary s;
  s.count = static_cast<int64_t>(latencies.size());
  LOOM_CHECK(s.count > 0, "summarize: no latencies");
  s.mean = std::accumulate(latencies.begin(), latencies.end(), 0.0) / static_cast<double>(s.count);
  s.p50 = percentile(latencies, 50);
  s.p90 = percentile(latencies, 90);
  s.p99 = percentile(latencies, 99);
  s.max = *std::max_element(latencies.begin(), latencies.end());
  return s;
}

std::vector<double> poisson_arrivals(double rate, int64_t count, uint64_t seed) {
  LOOM_CHECK(rate > 0 && std::isfinite(rate), "poisson_arrivals: rate must be > 0, got ", rate);
  LOOM_CHECK(count >= 0, "poisson_arrivals: count must be >= 0, got ", count);
  std::mt19937_64 gen(seed);
  std::exponential_distribution<double> gap(rate);
  std::vector<double> t(static_cast<size_t>(count));
  double now = 0;
  for (double& x : t) {
    now += gap(gen);
    x = now;
  }
  return t;
}

}  // namespace loom::imdb
