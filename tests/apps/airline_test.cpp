// tests/apps/airline_test.cpp: the airline program (lab 13): transforms and their inverses, the
// Holt-Winters filter against a case worked by hand, k-means, the CSV reader's errors, and the
// real binary end to end on a short synthetic series (and on a bad file).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/airline/baselines.h"
#include "apps/airline/classifier_study.h"
#include "apps/airline/forecaster.h"
#include "apps/airline/series.h"
#include "apps/airline/transforms.h"
#include "cuda/runtime/device.h"
#include "tests/common/error_of.h"

namespace {

using namespace loom::airline;
using loom::test::error_of;

void expect_near_all(const std::vector<double>& a, const std::vector<double>& b, double tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i], b[i], tol) << "at " << i;
}

TEST(AirlineTransforms, EachInverseUndoesItsTransform) {
  const std::vector<double> x = {112, 118, 132, 129, 121, 135, 148, 148, 136, 119,
                                 104, 118, 115, 126, 141, 135, 125, 149, 170, 170};
  const std::vector<double> z = log_transform(x);
  expect_near_all(exp_transform(z), x, 1e-9);
  for (int lag : {1, 12}) {
    const std::vector<double> d = difference(z, lag);
    ASSERT_EQ(d.size(), x.size() - lag);
    EXPECT_DOUBLE_EQ(d[0], z[lag] - z[0]);
    const std::vector<double> head(z.begin(), z.begin() + lag);
    expect_near_all(undifference(head, d, lag), z, 1e-12);
  }
  const MinMaxScaler sc(x);
  const std::vector<double> u = sc.apply(x);
  EXPECT_DOUBLE_EQ(sc.apply(104.0), -1.0);  // the minimum
  EXPECT_DOUBLE_EQ(sc.apply(170.0), 1.0);   // the maximum
  expect_near_all(sc.inverse(u), x, 1e-12);
  EXPECT_NE(error_of([] { log_transform({1.0, 0.0}); }).find("must be > 0"), std::string::npos);
  EXPECT_NE(error_of([] { MinMaxScaler({2.0, 2.0}); }).find("two distinct"), std::string::npos);
}

// Additive, period 2, alpha = beta = gamma = 0.5 on 1 3 2 4 3 5. By hand:
//   start: level (1+3)/2 = 2, trend ((2+4)/2 - 2)/2 = 0.5, seasons 1-2 = -1, 3-2 = 1
//   t=2: forecast 2 + 0.5 - 1 = 1.5; level .5(2+1) + .5(2.5) = 2.75; trend .5(.75) + .5(.5) =
//        0.625; season .5(2 - 2.75) + .5(-1) = -0.875
//   t=3: forecast 2.75 + .625 + 1 = 4.375; level .5(4-1) + .5(3.375) = 3.1875;
//        trend .5(.4375) + .5(.625) = 0.53125; season .5(4 - 3.1875) + .5(1) = 0.90625
//   t=4: forecast 3.1875 + .53125 - .875 = 2.84375;  two ahead of t=3: 3.1875 + 2(.53125) +
//        .90625 = 5.15625
TEST(AirlineHoltWinters, MatchesTheCaseWorkedByHand) {
  const HoltWinters p{0.5, 0.5, 0.5, 2, Seasonality::Additive};
  const std::vector<double> f = holt_winters_one_step({1, 3, 2, 4, 3, 5}, p);
  ASSERT_EQ(f.size(), 7u);
  EXPECT_TRUE(std::isnan(f[0]) && std::isnan(f[1]));
  EXPECT_DOUBLE_EQ(f[2], 1.5);
  EXPECT_DOUBLE_EQ(f[3], 4.375);
  EXPECT_DOUBLE_EQ(f[4], 2.84375);
  const std::vector<double> ahead = holt_winters_ahead({1, 3, 2, 4}, p, 2);
  EXPECT_DOUBLE_EQ(ahead[0], 2.84375);
  EXPECT_DOUBLE_EQ(ahead[1], 5.15625);
}

// On a noiseless trend x season the fitted filter is far better than the seasonal naive
// forecast (which misses a year of trend), though not exact: the start-up indexes carry season
// one's trend.
TEST(AirlineHoltWinters, FitsANoiselessSeasonalSeriesWell) {
  std::vector<double> x;  // (100 + 2t) * season: multiplicative, no noise
  for (int t = 0; t < 48; ++t)
    x.push_back((100 + 2 * t) * (1 + 0.2 * std::sin(2 * M_PI * t / 12)));
  const HoltWinters p = fit_holt_winters(x, 12, Seasonality::Multiplicative);
  const std::vector<double> f = holt_winters_one_step(x, p);
  const std::vector<double> tail_f(f.begin() + 36, f.begin() + 48), tail_x(x.begin() + 36, x.end());
  const std::vector<double> naive(x.begin() + 24, x.begin() + 36);  // x[t - 12]
  EXPECT_LT(rmse(tail_f, tail_x), 0.1 * rmse(naive, tail_x));
}

TEST(AirlineKMeans, ThreeClearGroups) {
  std::vector<double> c;
  const std::vector<int64_t> k = kmeans_1d({-2.1, 0.1, 1.9, -1.9, 2.1, -0.1}, 3, &c);
  EXPECT_EQ(k, (std::vector<int64_t>{0, 1, 2, 0, 2, 1}));
  expect_near_all(c, {-2.0, 0.0, 2.0}, 1e-12);
}

TEST(AirlineCsv, BadInputNamesFileAndLine) {
  auto err = [](const std::string& text, int64_t min_rows = 1) {
    return error_of([&] { parse_monthly_csv(text, "f.csv", min_rows, "the test"); });
  };
  EXPECT_NE(err("date,value\n1949-01,1\n").find("f.csv:1: the header must be"), std::string::npos);
  EXPECT_NE(err("month,passengers\n1949-01,1\n1949-03,2\n")
                .find("f.csv:3: month 1949-03 does not "
                      "follow 1949-01 (1949-02 is "
                      "missing)"),
            std::string::npos);
  EXPECT_NE(err("month,passengers\n1949-01,1\n1949-02,many\n").find("f.csv:3: passengers 'many'"),
            std::string::npos);
  EXPECT_NE(err("month,passengers\n1949-13,1\n").find("f.csv:2: '1949-13' is not a month"),
            std::string::npos);
  EXPECT_NE(err("month,passengers\n1949-01,1\n1949-02,2\n", 5).find("2 months, need at least 5"),
            std::string::npos);
  const MonthlySeries s =
      parse_monthly_csv("Month,Passengers\n1949-12,1\n\n1950-01,2.5\n", "ok", 2, "the test");
  EXPECT_EQ(s.months, (std::vector<std::string>{"1949-12", "1950-01"}));
  EXPECT_EQ(s.values, (std::vector<double>{1, 2.5}));
}

// ---- the binary ------------------------------------------------------------------------------

std::string temp_dir(const std::string& name) {
  const std::filesystem::path p = std::filesystem::temp_directory_path() /
                                  ("loom_airline_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

// Runs the airline binary with `args`; returns the exit status, output in *out.
int run_airline(const std::string& args, std::string* out) {
  const std::string cmd = std::string(LOOM_AIRLINE_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  out->clear();
  while (p && std::fgets(buf.data(), buf.size(), p))
    *out += buf.data();
  const int status = p ? pclose(p) : -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// 60 months of a growing seasonal series with a little deterministic noise.
std::string write_synthetic(const std::string& dir) {
  const std::string path = dir + "/series.csv";
  std::ofstream f(path);
  f << "month,passengers\n";
  for (int t = 0; t < 60; ++t)
    f << 2000 + t / 12 << "-" << (t % 12 < 9 ? "0" : "") << t % 12 + 1 << ","
      << (100 + 3 * t) * (1 + 0.2 * std::sin(2 * M_PI * t / 12)) + 5 * std::sin(1.7 * t) << "\n";
  return path;
}

// An ensemble's forecasts are the mean of its members' (member m of seed s is the single net of
// seed s + 1000 m), and its RMSE is at most the members' mean RMSE (the triangle inequality).
TEST(AirlineForecaster, AnEnsembleIsTheMeanOfItsMembers) {
  MonthlySeries s;
  s.source = "synthetic";
  for (int t = 0; t < 60; ++t) {
    s.months.push_back(std::to_string(2000 + t / 12) + "-" + std::to_string(t % 12 + 1));
    s.values.push_back((100 + 3 * t) * (1 + 0.2 * std::sin(2 * M_PI * t / 12)) +
                       5 * std::sin(1.7 * t));
  }
  ForecastConfig c;
  c.train_months = 36, c.window = 6, c.hidden = 4, c.epochs = 20, c.origin = 48;
  c.members = 3;
  const ForecastResult ensemble = run_forecaster(s, c, 2);
  c.members = 1;
  std::vector<double> one(ensemble.one_step.size()), ahead(ensemble.ahead.size());
  double mean_rmse = 0;
  for (uint64_t m = 0; m < 3; ++m) {
    const ForecastResult single = run_forecaster(s, c, 2 + 1000 * m);
    for (size_t i = 0; i < one.size(); ++i)
      one[i] += single.one_step[i] / 3;
    for (size_t i = 0; i < ahead.size(); ++i)
      ahead[i] += single.ahead[i] / 3;
    mean_rmse += single.rmse_one_step / 3;
  }
  expect_near_all(ensemble.one_step, one, 1e-9);
  expect_near_all(ensemble.ahead, ahead, 1e-9);
  EXPECT_LE(ensemble.rmse_one_step, mean_rmse + 1e-12);
  c.members = 0;
  EXPECT_NE(error_of([&] { run_forecaster(s, c, 1); }).find("--members"), std::string::npos);
}

TEST(AirlineBinary, StudyRunsEndToEndOnAShortSeries) {
  const std::string dir = temp_dir("e2e");
  const std::string data = write_synthetic(dir);
  std::string out;
  const int code = run_airline("study --data " + data + " --out " + dir + "/run --repeats 1 " +
                                   "--seeds 2 --forecast-epochs 20 --window 6 --train-months 36 " +
                                   "--origin 48",
                               &out);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("losses bit-identical: yes, final weights bit-identical: yes"),
            std::string::npos)
      << out;
  std::ifstream f(dir + "/run/airline-study.json");
  const nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_TRUE(j["classifier"]["losses_identical"].get<bool>());
  EXPECT_EQ(j["classifier"]["sequential"].size(), 6u);  // epoch 0 and five epochs
  EXPECT_EQ(j["forecast"]["rmse_one_step"]["model_per_seed"].size(), 2u);
  EXPECT_TRUE(std::filesystem::exists(dir + "/run/forecasts.csv"));
  std::filesystem::remove_all(dir);
}

TEST(AirlineBinary, BadCsvExitsNonZeroNamingFileAndLine) {
  const std::string dir = temp_dir("bad");
  const std::string path = dir + "/bad.csv";
  std::ofstream(path) << "month,passengers\n1949-01,112\n1949-02,x\n";
  std::string out;
  EXPECT_EQ(run_airline("forecast --data " + path, &out), 2);
  EXPECT_NE(out.find(path + ":3: passengers 'x'"), std::string::npos) << out;
  EXPECT_NE(run_airline("forecast --data " + dir + "/missing.csv", &out), 0);
  EXPECT_NE(run_airline("train --impl fast", &out), 0);
  // Flags are checked before the data is read: the same message without the default CSV.
  EXPECT_EQ(run_airline("train --device tpu --data " + dir + "/missing.csv", &out), 2);
  EXPECT_NE(out.find("--device must be cpu, cuda or auto, got 'tpu'"), std::string::npos) << out;
  if (loom::cuda::device_count() == 0) {  // without a GPU, asking for one is an error, not the CPU
    EXPECT_EQ(run_airline("train --device cuda --data " + dir + "/missing.csv", &out), 2);
    EXPECT_NE(out.find("--device cuda: "), std::string::npos) << out;
  }
  std::filesystem::remove_all(dir);
}

// The study's "parallel (cuda)" row: the fused RNN on the GPU against the CPU, within 1e-12 in
// float64 (cuBLAS sums in its own order, so not to the bit).
TEST(AirlineClassifier, CudaMatchesTheCpuWithin1e12) {
  if (loom::cuda::device_count() == 0) GTEST_SKIP() << "needs a CUDA device";
  const std::string dir = temp_dir("cuda");
  const MonthlySeries s = read_monthly_csv(write_synthetic(dir), 40, "the test");
  ClassifierConfig c;
  c.window = 6;
  c.epochs = 2;
  const ClassData d = prepare_classes(s, c);
  const ClassifierRun cpu = train_classifier(d, c, loom::nn::RnnImpl::Fused, 2, "cpu");
  const ClassifierRun gpu = train_classifier(d, c, loom::nn::RnnImpl::Fused, 2, "cuda",
                                             loom::Device(loom::DeviceType::CUDA, 0));
  ASSERT_EQ(cpu.losses.size(), gpu.losses.size());
  for (size_t i = 0; i < cpu.losses.size(); ++i) {
    EXPECT_NEAR(cpu.losses[i].train, gpu.losses[i].train, 1e-12) << "epoch " << i;
    EXPECT_NEAR(cpu.losses[i].valid, gpu.losses[i].valid, 1e-12) << "epoch " << i;
  }
  EXPECT_GT(std::abs(cpu.losses.back().train - cpu.losses.front().train), 1e-6)
      << "training must move the loss, or the comparison says nothing";
  std::filesystem::remove_all(dir);
}

}  // namespace
