// apps/airline/transforms.h: the series transforms the forecaster chains, each with its inverse.
//
//   log            z = log x            makes the growing seasonal swing a constant one
//   difference     d_t = z_t - z_{t-k}  k = 1 removes the trend, k = 12 the seasonal pattern
//   MinMaxScaler   u = 2 (v - lo) / (hi - lo) - 1   into [-1, 1] on the fitted range (tanh's)
// Inverses: exp; undifference rebuilds z from its first k values and d; scaler.inverse.
// docs/labs/13-time-series.md says why each is there.
//
// Leaves out: Box-Cox with a fitted lambda, detrending by regression.
#pragma once

#include <vector>

namespace loom::airline {

std::vector<double> log_transform(const std::vector<double>& x);  // every x > 0
std::vector<double> exp_transform(const std::vector<double>& z);

// d[i] = z[i + lag] - z[i]: size z.size() - lag.
std::vector<double> difference(const std::vector<double>& z, int lag);
// The inverse: z from its first `lag` values (head) and d; size head.size() + d.size().
std::vector<double> undifference(const std::vector<double>& head, const std::vector<double>& d,
                                 int lag);

class MinMaxScaler {
 public:
  // lo and hi from `fit_on` (at least two distinct values).
  explicit MinMaxScaler(const std::vector<double>& fit_on);
  double apply(double v) const { return 2 * (v - lo_) / (hi_ - lo_) - 1; }
  double inverse(double u) const { return (u + 1) / 2 * (hi_ - lo_) + lo_; }
  std::vector<double> apply(const std::vector<double>& v) const;
  std::vector<double> inverse(const std::vector<double>& u) const;

 private:
  double lo_, hi_;
};

}  // namespace loom::airline
