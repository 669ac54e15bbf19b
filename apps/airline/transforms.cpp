// apps/airline/transforms.cpp: the transforms of transforms.h and their inverses.
#include "apps/airline/transforms.h"

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

namespace loom::airline {

std::vector<double> log_transform(const std::vector<double>& x) {
  std::vector<double> z(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    LOOM_CHECK(x[i] > 0, "log_transform: value ", i, " is ", x[i], " (must be > 0)");
    z[i] = std::log(x[i]);
  }
  return z;
}

std::vector<double> exp_transform(const std::vector<double>& z) {
  std::vector<double> x(z.size());
  for (size_t i = 0; i < z.size(); ++i)
    x[i] = std::exp(z[i]);
  return x;
}

std::vector<double> difference(const std::vector<double>& z, int lag) {
  LOOM_CHECK(lag >= 1 && static_cast<size_t>(lag) < z.size(), "difference: lag ", lag,
             " needs more than ", lag, " values, got ", z.size());
  std::vector<double> d(z.size() - static_cast<size_t>(lag));
  for (size_t i = 0; i < d.size(); ++i)
    d[i] = z[i + static_cast<size_t>(lag)] - z[i];
  return d;
}

std::vector<double> undifference(const std::vector<double>& head, const std::vector<double>& d,
                                 int lag) {
  LOOM_CHECK(lag >= 1 && head.size() == static_cast<size_t>(lag), "undifference: need the first ",
             lag, " values, got ", head.size());
  std::vector<double> z = head;
  for (size_t i = 0; i < d.size(); ++i)
    z.push_back(z[i] + d[i]);
  return z;
}

MinMaxScaler::MinMaxScaler(const std::vector<double>& fit_on) {
  LOOM_CHECK(!fit_on.empty(), "MinMaxScaler: nothing to fit on");
  const auto [lo, hi] = std::minmax_element(fit_on.begin(), fit_on.end());
  lo_ = *lo, hi_ = *hi;
  LOOM_CHECK(hi_ > lo_, "MinMaxScaler: every value is ", lo_, " (need two distinct values)");
}

std::vector<double> MinMaxScaler::apply(const std::vector<double>& v) const {
  std::vector<double> u(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    u[i] = apply(v[i]);
  return u;
}

std::vector<double> MinMaxScaler::inverse(const std::vector<double>& u) const {
  std::vector<double> v(u.size());
  for (size_t i = 0; i < u.size(); ++i)
    v[i] = inverse(u[i]);
  return v;
}

}  // namespace loom::airline
