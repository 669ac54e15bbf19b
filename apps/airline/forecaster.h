// apps/airline/forecaster.h: a recurrent regressor that forecasts the series month by month.
//
// The transforms (transforms.h), in order: log (the seasonal swing grows with the level: log
// makes it constant), seasonal difference (lag 12: removes the yearly pattern), first difference
// (removes what is left of the trend), min-max scaling into [-1, 1] fitted on the training
// months. What is left is close to noise; the network reads the last `window` of those values and
// predicts the next one, which the inverse transforms turn back into passengers (thousands):
//   z_t = log x_t,  d_t = z_t - z_{t-1} - z_{t-12} + z_{t-13},  x_t = exp(d_t + z_{t-1} + z_{t-12}
//   - z_{t-13})
// One-step-ahead forecasts of the test months read the true past; the h-month forecast from an
// origin feeds its own forecasts back (recursive). Trained on the first `train_months` only.
// A forecaster averages `members` nets from different starts (an ensemble): with ~60 training
// windows one net depends on its start, and by the triangle inequality the average's RMSE is at
// most the members' mean RMSE (lab 13 has the numbers).
// Leaves out: exogenous inputs, prediction intervals, a validation split (the epochs are fixed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/airline/series.h"

namespace loom::airline {

struct ForecastConfig {
  int64_t train_months = 96, window = 24, hidden = 16, epochs = 300;
  double lr = 0.001;
  std::string cell = "lstm";     // "lstm" or "rnn"
  bool first_difference = true;  // after the seasonal one (false: d_t = z_t - z_{t-12})
  int64_t origin = 132, horizon = 12;
  int64_t members = 5;  // nets averaged per forecast; 1 = a single net
};

struct ForecastResult {
  uint64_t seed = 0;
  std::vector<double> one_step;  // forecasts of months train_months .. n-1
  std::vector<double> ahead;     // forecasts of months origin .. origin + horizon - 1
  double rmse_one_step = 0, rmse_ahead = 0;
  double final_train_loss = 0;  // MSE in scaled units
};

// The months this configuration needs: the training months and the 12-month forecast's.
int64_t forecaster_min_months(const ForecastConfig& c);

// Member m (0-based) of the forecaster with `seed` starts from Generator(seed + 1000 m): member 0
// is the single net of `members = 1`, and seeds 1..999 never share a member.
ForecastResult run_forecaster(const MonthlySeries& s, const ForecastConfig& c, uint64_t seed);

}  // namespace loom::airline
