// apps/airline/commands.cpp: train, forecast and study (commands.h): run, print, write.
#include "apps/airline/commands.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/airline/baselines.h"
#include "cuda/runtime/device.h"
#include "tensor/cpu/threads.h"
#include "tensor/error.h"

namespace loom::airline {
namespace {

using nlohmann::json;

MonthlySeries load(const Settings& s, int64_t min_rows, const std::string& why) {
  return read_monthly_csv(s.data, min_rows, why);
}

// --device: cpu, cuda (a GPU is required) or auto (the GPU when there is one, for the study only;
// train's auto is the CPU).
bool wants_cuda(const std::string& device, bool auto_means_gpu) {
  LOOM_CHECK(device == "cpu" || device == "cuda" || device == "auto",
             "--device must be cpu, cuda or auto, got '", device, "'");
  const bool have_gpu = cuda::built_with_cuda() && cuda::device_count() > 0;
  if (device == "cuda")
    LOOM_CHECK(have_gpu, "--device cuda: ",
               cuda::built_with_cuda() ? "no CUDA device (" + cuda::device_report() + ")"
                                       : std::string("this build has no CUDA backend"));
  return device == "cuda" || (device == "auto" && auto_means_gpu && have_gpu);
}

// Largest |a - b| over every epoch's train and valid loss of two runs of the same length.
double max_loss_difference(const ClassifierRun& a, const ClassifierRun& b) {
  double worst = 0;
  for (size_t i = 0; i < a.losses.size() && i < b.losses.size(); ++i)
    worst = std::max({worst, std::abs(a.losses[i].train - b.losses[i].train),
                      std::abs(a.losses[i].valid - b.losses[i].valid)});
  return worst;
}

int64_t classifier_min_months(const ClassifierConfig& c) {
  // windows + 10 changes in the used part (prepare_classes checks the exact count)
  return static_cast<int64_t>(std::ceil((c.window + 10) / c.used_fraction)) + 1;
}

void print_losses(const ClassifierRun& r) {
  std::printf("%s (%d thread%s):\n  epoch  train loss            valid loss\n", r.name.c_str(),
              r.threads, r.threads == 1 ? "" : "s");
  for (const EpochLoss& e : r.losses)
    std::printf("  %5lld  %.16f  %.16f\n", static_cast<long long>(e.epoch), e.train, e.valid);
  std::printf("  test accuracy %.3f, %.3f s\n", r.test_accuracy, r.seconds);
}

json losses_json(const ClassifierRun& r) {
  json rows = json::array();
  for (const EpochLoss& e : r.losses) {
    char tr[32], va[32];
    std::snprintf(tr, sizeof tr, "%.16f", e.train);
    std::snprintf(va, sizeof va, "%.16f", e.valid);
    rows.push_back({{"epoch", e.epoch}, {"train", tr}, {"valid", va}});
  }
  return rows;
}

struct Baselines {
  HoltWinters hw_add, hw_mul;
  std::vector<double> persistence, seasonal, hw_add_one, hw_mul_one;  // one step, test months
  std::vector<double> persistence_ahead, seasonal_ahead, hw_add_ahead, hw_mul_ahead;
};

Baselines baselines(const MonthlySeries& s, const ForecastConfig& c) {
  const std::vector<double>& x = s.values;
  const std::vector<double> fit(x.begin(), x.begin() + c.train_months);
  const std::vector<double> hist(x.begin(), x.begin() + c.origin);
  Baselines b;
  b.hw_add = fit_holt_winters(fit, 12, Seasonality::Additive);
  b.hw_mul = fit_holt_winters(fit, 12, Seasonality::Multiplicative);
  const std::vector<double> fa = holt_winters_one_step(x, b.hw_add);
  const std::vector<double> fm = holt_winters_one_step(x, b.hw_mul);
  for (int64_t t = c.train_months; t < s.size(); ++t) {
    const auto i = static_cast<size_t>(t);
    b.persistence.push_back(x[i - 1]);
    b.seasonal.push_back(x[i - 12]);
    b.hw_add_one.push_back(fa[i]);
    b.hw_mul_one.push_back(fm[i]);
  }
  for (int64_t k = 0; k < c.horizon; ++k) {
    b.persistence_ahead.push_back(hist.back());
    b.seasonal_ahead.push_back(hist[hist.size() - 12 + static_cast<size_t>(k % 12)]);
  }
  b.hw_add_ahead = holt_winters_ahead(hist, b.hw_add, static_cast<int>(c.horizon));
  b.hw_mul_ahead = holt_winters_ahead(hist, b.hw_mul, static_cast<int>(c.horizon));
  return b;
}

double mean_of(const std::vector<double>& v) {
  double m = 0;
  for (double x : v)
    m += x / static_cast<double>(v.size());
  return m;
}
double sd_of(const std::vector<double>& v) {  // sample standard deviation
  if (v.size() < 2) return 0;
  const double m = mean_of(v);
  double s = 0;
  for (double x : v)
    s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

// Baselines and the forecaster over `seeds` seeds: printed, and returned as JSON. Writes the
// forecasts of every method, month by month, to `csv_path` unless it is empty.
json forecast_all(const Settings& st, const MonthlySeries& s, const std::string& csv_path);

}  // namespace

int run_train(const Settings& st) {
  // The flags first: a bad one is named whatever the data file holds.
  LOOM_CHECK(st.impl == "composed" || st.impl == "fused", "--impl must be composed or fused, got '",
             st.impl, "'");
  const Device device = wants_cuda(st.device, false) ? Device(DeviceType::CUDA, 0) : kCPU;
  const MonthlySeries s = load(st, classifier_min_months(st.classifier), "the project's study");
  const ClassData d = prepare_classes(s, st.classifier);
  const int threads = st.threads > 0 ? st.threads : get_num_threads();
  const ClassifierRun r = train_classifier(
      d, st.classifier, st.impl == "composed" ? nn::RnnImpl::Composed : nn::RnnImpl::Fused, threads,
      st.impl + (device.is_cuda() ? " (cuda)" : ""), device);
  print_losses(r);
  return 0;
}

int run_forecast(const Settings& st) {
  const MonthlySeries s = load(st, forecaster_min_months(st.forecast), "the forecast's months");
  forecast_all(st, s, st.out.empty() ? "" : st.out + "/forecasts.csv");
  return 0;
}

int run_study(const Settings& st) {
  const bool on_gpu = wants_cuda(st.device, true);
  const MonthlySeries s =
      load(st, std::max(classifier_min_months(st.classifier), forecaster_min_months(st.forecast)),
           "the project's study and the forecast");
  const ClassData d = prepare_classes(s, st.classifier);
  std::printf(
      "the project's study: %lld/%lld/%lld windows, classes (down, flat, up): %lld %lld "
      "%lld changes, centroids %.3f %.3f %.3f (normalised)\n",
      static_cast<long long>(d.train.y.size(0)), static_cast<long long>(d.valid.y.size(0)),
      static_cast<long long>(d.test.y.size(0)), static_cast<long long>(d.counts[0]),
      static_cast<long long>(d.counts[1]), static_cast<long long>(d.counts[2]), d.centroids[0],
      d.centroids[1], d.centroids[2]);
  const int all = get_num_threads();
  std::vector<double> t_seq, t_par;
  ClassifierRun seq, par;
  for (int r = 0; r < std::max(st.repeats, 1); ++r) {  // alternating, so load hits both alike
    seq = train_classifier(d, st.classifier, nn::RnnImpl::Composed, 1, "sequential");
    par = train_classifier(d, st.classifier, nn::RnnImpl::Fused, all, "parallel");
    t_seq.push_back(seq.seconds);
    t_par.push_back(par.seconds);
  }
  print_losses(seq);
  print_losses(par);
  const bool same_losses = losses_json(seq) == losses_json(par);
  const bool same_weights = seq.weight_bytes == par.weight_bytes;
  std::sort(t_seq.begin(), t_seq.end());
  std::sort(t_par.begin(), t_par.end());
  const double med_seq = t_seq[t_seq.size() / 2], med_par = t_par[t_par.size() / 2];
  std::printf("losses bit-identical: %s, final weights bit-identical: %s\n",
              same_losses ? "yes" : "NO", same_weights ? "yes" : "NO");
  std::printf("median of %zu: sequential %.4f s, parallel %.4f s: speedup %.2fx\n\n", t_seq.size(),
              med_seq, med_par, med_seq / med_par);
  // The GPU: once (its first run pays for CUDA's start-up), compared with the CPU's losses.
  json gpu = nullptr;
  bool gpu_ok = true;
  if (on_gpu) {
    const ClassifierRun g = train_classifier(d, st.classifier, nn::RnnImpl::Fused, all,
                                             "parallel (cuda)", Device(DeviceType::CUDA, 0));
    print_losses(g);
    const double diff = max_loss_difference(g, par);
    gpu_ok = diff <= 1e-12;
    std::printf("cuda vs cpu: largest |loss difference| %.3g (limit 1e-12): %s\n\n", diff,
                gpu_ok ? "yes" : "NO");
    gpu = {{"losses", losses_json(g)},
           {"seconds", g.seconds},
           {"max_loss_difference", diff},
           {"within_1e-12", gpu_ok}};
  }
  json out;
  out["classifier"] = {{"sequential", losses_json(seq)},
                       {"parallel", losses_json(par)},
                       {"parallel_threads", all},
                       {"losses_identical", same_losses},
                       {"weights_identical", same_weights},
                       {"seconds_sequential", t_seq},
                       {"seconds_parallel", t_par},
                       {"speedup_median", med_seq / med_par},
                       {"test_accuracy", seq.test_accuracy},
                       {"windows", {d.train.y.size(0), d.valid.y.size(0), d.test.y.size(0)}},
                       {"class_counts", d.counts},
                       {"centroids", d.centroids},
                       {"cuda", gpu}};
  if (!st.out.empty()) std::filesystem::create_directories(st.out);
  out["forecast"] = forecast_all(st, s, st.out.empty() ? "" : st.out + "/forecasts.csv");
  if (!st.out.empty()) {
    std::ofstream f(st.out + "/airline-study.json");
    f << out.dump(2) << "\n";
    LOOM_CHECK(f.good(), "study: cannot write ", st.out, "/airline-study.json");
    std::printf("wrote %s/airline-study.json and %s/forecasts.csv\n", st.out.c_str(),
                st.out.c_str());
  }
  return same_losses && same_weights && gpu_ok ? 0 : 1;
}

namespace {

json forecast_all(const Settings& st, const MonthlySeries& s, const std::string& csv_path) {
  const ForecastConfig& c = st.forecast;
  const Baselines b = baselines(s, c);
  const std::vector<double> test(s.values.begin() + c.train_months, s.values.end());
  const std::vector<double> test_ahead(s.values.begin() + c.origin,
                                       s.values.begin() + c.origin + c.horizon);
  std::vector<ForecastResult> runs;
  std::vector<double> one, ahead;
  for (int seed = 1; seed <= st.seeds; ++seed) {
    runs.push_back(run_forecaster(s, c, static_cast<uint64_t>(seed)));
    one.push_back(runs.back().rmse_one_step);
    ahead.push_back(runs.back().rmse_ahead);
  }
  std::printf(
      "forecast RMSE (thousands of passengers): one step over months %lld-%lld | %lld "
      "months from month %lld\n",
      static_cast<long long>(c.train_months), static_cast<long long>(s.size() - 1),
      static_cast<long long>(c.horizon), static_cast<long long>(c.origin));
  auto row = [&](const char* name, double r1, double r12) {
    std::printf("  %-34s %7.2f  %7.2f\n", name, r1, r12);
  };
  row("persistence", rmse(b.persistence, test), rmse(b.persistence_ahead, test_ahead));
  row("seasonal naive", rmse(b.seasonal, test), rmse(b.seasonal_ahead, test_ahead));
  row("Holt-Winters additive", rmse(b.hw_add_one, test), rmse(b.hw_add_ahead, test_ahead));
  row("Holt-Winters multiplicative", rmse(b.hw_mul_one, test), rmse(b.hw_mul_ahead, test_ahead));
  std::printf("  %-34s %7.2f  %7.2f   (quoted, not computed here)\n", "SARIMA(0,1,1)(0,1,1)12 log",
              14.0, 18.6);
  for (const ForecastResult& r : runs)
    std::printf("  %-4s seed %-27llu %7.2f  %7.2f\n", c.cell.c_str(),
                static_cast<unsigned long long>(r.seed), r.rmse_one_step, r.rmse_ahead);
  std::printf("  %-4s mean +- sd over %-3d seeds      %7.2f  %7.2f   (+- %.2f, %.2f)\n",
              c.cell.c_str(), st.seeds, mean_of(one), mean_of(ahead), sd_of(one), sd_of(ahead));
  json j;
  j["config"] = {{"cell", c.cell},      {"hidden", c.hidden},   {"window", c.window},
                 {"epochs", c.epochs},  {"lr", c.lr},           {"train_months", c.train_months},
                 {"origin", c.origin},  {"horizon", c.horizon}, {"seeds", st.seeds},
                 {"members", c.members}};
  j["rmse_one_step"] = {{"persistence", rmse(b.persistence, test)},
                        {"seasonal_naive", rmse(b.seasonal, test)},
                        {"holt_winters_additive", rmse(b.hw_add_one, test)},
                        {"holt_winters_multiplicative", rmse(b.hw_mul_one, test)},
                        {"model_per_seed", one},
                        {"model_mean", mean_of(one)},
                        {"model_sd", sd_of(one)}};
  j["rmse_ahead"] = {{"persistence", rmse(b.persistence_ahead, test_ahead)},
                     {"seasonal_naive", rmse(b.seasonal_ahead, test_ahead)},
                     {"holt_winters_additive", rmse(b.hw_add_ahead, test_ahead)},
                     {"holt_winters_multiplicative", rmse(b.hw_mul_ahead, test_ahead)},
                     {"model_per_seed", ahead},
                     {"model_mean", mean_of(ahead)},
                     {"model_sd", sd_of(ahead)}};
  j["holt_winters_parameters"] = {
      {"additive", {b.hw_add.alpha, b.hw_add.beta, b.hw_add.gamma}},
      {"multiplicative", {b.hw_mul.alpha, b.hw_mul.beta, b.hw_mul.gamma}}};
  j["sarima_quoted"] = {{"one_step", 14.0}, {"ahead", 18.6}};
  if (!csv_path.empty()) {  // month, actual, then each method's one-step and ahead forecasts
    std::filesystem::create_directories(std::filesystem::path(csv_path).parent_path());
    std::ofstream f(csv_path);
    f << "month,actual,kind,persistence,seasonal_naive,holt_winters_additive,holt_winters_"
         "multiplicative,model_seed1\n";
    for (int64_t t = c.train_months; t < s.size(); ++t) {
      const auto i = static_cast<size_t>(t - c.train_months);
      f << s.months[static_cast<size_t>(t)] << "," << s.values[static_cast<size_t>(t)]
        << ",one_step," << b.persistence[i] << "," << b.seasonal[i] << "," << b.hw_add_one[i] << ","
        << b.hw_mul_one[i] << "," << runs[0].one_step[i] << "\n";
    }
    for (int64_t k = 0; k < c.horizon; ++k) {
      const auto i = static_cast<size_t>(k);
      const auto t = static_cast<size_t>(c.origin + k);
      f << s.months[t] << "," << s.values[t] << ",ahead," << b.persistence_ahead[i] << ","
        << b.seasonal_ahead[i] << "," << b.hw_add_ahead[i] << "," << b.hw_mul_ahead[i] << ","
        << runs[0].ahead[i] << "\n";
    }
    LOOM_CHECK(f.good(), "forecast: cannot write ", csv_path);
  }
  return j;
}

}  // namespace

}  // namespace loom::airline
