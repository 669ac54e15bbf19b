// tests/apps/bench_stats_test.cpp: the arithmetic of `imdb bench` (apps/imdb/bench_stats.h):
// nearest-rank percentiles and the Poisson arrival schedule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "apps/imdb/bench_stats.h"
#include "tensor/error.h"

namespace loom::imdb {
namespace {

TEST(Percentile, NearestRankOnSmallLists) {
  std::vector<double> v = {7, 1, 10, 3, 2, 9, 4, 8, 6, 5};  // 1..10, shuffled
  EXPECT_EQ(percentile(v, 50), 5);                          // ceil(5) = 5th smallest
  EXPECT_EQ(percentile(v, 90), 9);   // ceil(9) = 9th, not rounded up to the 10th
  EXPECT_EQ(percentile(v, 99), 10);  // ceil(9.9) = 10th
  EXPECT_EQ(percentile(v, 100), 10);
  EXPECT_EQ(percentile(v, 10), 1);
  EXPECT_EQ(percentile(v, 10.0001), 2);
  EXPECT_EQ(percentile({42}, 99), 42);
}

TEST(Percentile, ThousandValues) {
  std::vector<double> v(1000);
  std::iota(v.begin(), v.end(), 1.0);
  std::shuffle(v.begin(), v.end(), std::mt19937(5));
  EXPECT_EQ(percentile(v, 90), 900);
  EXPECT_EQ(percentile(v, 99), 990);
  EXPECT_EQ(percentile(v, 99.9), 999);
  const LatencySummary s = summarize(v);
  EXPECT_EQ(s.count, 1000);
  EXPECT_DOUBLE_EQ(s.mean, 500.5);
  EXPECT_EQ(s.p50, 500);
  EXPECT_EQ(s.max, 1000);
}

TEST(Percentile, RejectsBadInput) {
  EXPECT_THROW(percentile({}, 50), Error);
  EXPECT_THROW(percentile({1, 2}, 0), Error);
  EXPECT_THROW(percentile({1, 2}, 100.5), Error);
}

TEST(PoissonArrivals, SeededIncreasingWithTheRightRate) {
  const double rate = 250;
  const std::vector<double> t = poisson_arrivals(rate, 20000, 7);
  EXPECT_EQ(t, poisson_arrivals(rate, 20000, 7));
  EXPECT_NE(t, poisson_arrivals(rate, 20000, 8));
  EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
  EXPECT_GT(t.front(), 0);
  // Mean gap 1/rate: its standard error over 20000 gaps is 0.7%, so 5% is ~7 sigma.
  EXPECT_NEAR(t.back() / 20000.0, 1.0 / rate, 0.05 / rate);
  // Counts in 0.1 s windows: Poisson, so their variance equals their mean (25); an evenly spaced
  // or bursty schedule would give a dispersion index far from 1.
  std::vector<int> counts(static_cast<size_t>(t.back() / 0.1), 0);
  for (double x : t)
    if (static_cast<size_t>(x / 0.1) < counts.size()) ++counts[static_cast<size_t>(x / 0.1)];
  double mean = 0, var = 0;
  for (int c : counts)
    mean += c;
  mean /= static_cast<double>(counts.size());
  for (int c : counts)
    var += (c - mean) * (c - mean);
  var /= static_cast<double>(counts.size() - 1);
  EXPECT_NEAR(var / mean, 1.0, 0.25);
  EXPECT_THROW(poisson_arrivals(0, 10, 1), Error);
}

}  // namespace
}  // namespace loom::imdb
