// apps/airline/baselines.cpp: RMSE and Holt-Winters (contract in baselines.h).
#include "apps/airline/baselines.h"

#include <cmath>
#include <limits>

#include "tensor/error.h"

namespace loom::airline {
namespace {

// The filter's state after some step t: level, trend and the seasonal index of every month so
// far (s[i] is the index for month i; the next month t+1 reuses s[t+1-period]).
struct State {
  double level = 0, trend = 0;
  std::vector<double> season;
};

double combine(Seasonality k, double level_trend, double s) {
  return k == Seasonality::Additive ? level_trend + s : level_trend * s;
}

// Runs the filter over x, writing one-step forecasts into f (size x.size() + 1) if not null.
State run(const std::vector<double>& x, const HoltWinters& p, std::vector<double>* f) {
  const int m = p.period;
  LOOM_CHECK(m >= 1 && x.size() >= static_cast<size_t>(2 * m), "Holt-Winters: period ", m,
             " needs at least ", 2 * m, " values, got ", x.size());
  const bool add = p.kind == Seasonality::Additive;
  double first = 0, second = 0;
  for (int i = 0; i < m; ++i)
    first += x[static_cast<size_t>(i)] / m, second += x[static_cast<size_t>(i + m)] / m;
  State st;
  st.level = first;
  st.trend = (second - first) / m;
  for (int i = 0; i < m; ++i) {
    const double xi = x[static_cast<size_t>(i)];
    st.season.push_back(add ? xi - first : xi / first);
  }
  if (f) f->assign(x.size() + 1, std::numeric_limits<double>::quiet_NaN());
  for (size_t t = static_cast<size_t>(m); t < x.size(); ++t) {
    const double s_old = st.season[t - static_cast<size_t>(m)];
    if (f) (*f)[t] = combine(p.kind, st.level + st.trend, s_old);
    const double level =
        p.alpha * (add ? x[t] - s_old : x[t] / s_old) + (1 - p.alpha) * (st.level + st.trend);
    st.trend = p.beta * (level - st.level) + (1 - p.beta) * st.trend;
    st.level = level;
    st.season.push_back(p.gamma * (add ? x[t] - level : x[t] / level) + (1 - p.gamma) * s_old);
  }
  if (f) (*f)[x.size()] = combine(p.kind, st.level + st.trend, st.season[x.size() - m]);
  return st;
}

}  // namespace

double rmse(const std::vector<double>& forecast, const std::vector<double>& actual) {
  LOOM_CHECK(forecast.size() == actual.size() && !actual.empty(), "rmse: ", forecast.size(),
             " forecasts for ", actual.size(), " values");
  double s = 0;
  for (size_t i = 0; i < actual.size(); ++i)
    s += (forecast[i] - actual[i]) * (forecast[i] - actual[i]);
  return std::sqrt(s / static_cast<double>(actual.size()));
}

const char* seasonality_name(Seasonality s) {
  return s == Seasonality::Additive ? "additive" : "multiplicative";
}

std::vector<double> holt_winters_one_step(const std::vector<double>& x, const HoltWinters& p) {
  std::vector<double> f;
  run(x, p, &f);
  return f;
}

std::vector<double> holt_winters_ahead(const std::vector<double>& x, const HoltWinters& p, int h) {
  const State st = run(x, p, nullptr);
  const size_t n = x.size(), m = static_cast<size_t>(p.period);
  std::vector<double> out;
  for (int k = 1; k <= h; ++k) {
    // The index of the month k steps ahead: the latest estimate for that calendar month.
    const size_t month = n + static_cast<size_t>(k - 1);
    const size_t idx = n - m + (month - n) % m;
    out.push_back(combine(p.kind, st.level + k * st.trend, st.season[idx]));
  }
  return out;
}

HoltWinters fit_holt_winters(const std::vector<double>& x, int period, Seasonality kind) {
  HoltWinters best{0, 0, 0, period, kind};
  double best_sse = std::numeric_limits<double>::infinity();
  std::vector<double> f;
  for (int a = 1; a < 20; ++a)
    for (int b = 1; b < 20; ++b)
      for (int g = 1; g < 20; ++g) {
        const HoltWinters p{a * 0.05, b * 0.05, g * 0.05, period, kind};
        run(x, p, &f);
        double sse = 0;
        for (size_t t = static_cast<size_t>(period); t < x.size(); ++t)
          sse += (f[t] - x[t]) * (f[t] - x[t]);
        if (sse < best_sse) best_sse = sse, best = p;
      }
  return best;
}

}  // namespace loom::airline
