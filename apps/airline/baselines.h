// apps/airline/baselines.h: the forecasts any model must beat, and the error measure.
//
//   persistence      x_hat[t] = x[t-1]        (12 ahead: the last value, repeated)
//   seasonal naive   x_hat[t] = x[t-12]       (12 ahead: the last year, repeated)
//   Holt-Winters     level, trend and a seasonal index per month, each an exponentially weighted
//                    average; additive (x = l + b + s) or multiplicative (x = (l + b) s).
// Holt-Winters starts from the first two seasons (level: mean of season 1; trend: the change
// of the seasonal means per step; indexes: season 1 against the level) and its alpha, beta, gamma
// are fitted by a grid search on the one-step squared error (Hyndman & Athanasopoulos, FPP3 8.3).
//
// Leaves out: damped trend, optimiser-fitted initial states, prediction intervals, SARIMA.
#pragma once

#include <vector>

namespace loom::airline {

double rmse(const std::vector<double>& forecast, const std::vector<double>& actual);

enum class Seasonality { Additive, Multiplicative };
const char* seasonality_name(Seasonality s);

struct HoltWinters {
  double alpha = 0.5, beta = 0.1, gamma = 0.1;
  int period = 12;
  Seasonality kind = Seasonality::Multiplicative;
};

// f[t] for t in [period, x.size()]: the forecast of x[t] from x[0..t-1] (f[x.size()] is the next
// value); entries before `period` are NaN. Needs x.size() >= 2 * period.
std::vector<double> holt_winters_one_step(const std::vector<double>& x, const HoltWinters& p);
// The `h` forecasts after the last value of x.
std::vector<double> holt_winters_ahead(const std::vector<double>& x, const HoltWinters& p, int h);
// alpha, beta, gamma on a grid (steps of 0.05 in [0.05, 0.95]), minimising the one-step
// squared error over x[period..].
HoltWinters fit_holt_winters(const std::vector<double>& x, int period, Seasonality kind);

}  // namespace loom::airline
