// apps/airline/forecaster.cpp: transforms, training and the two kinds of forecast
// (forecaster.h).
#include "apps/airline/forecaster.h"

#include <cmath>
#include <memory>

#include "apps/airline/baselines.h"
#include "apps/airline/transforms.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "nn/linear.h"
#include "nn/losses.h"
#include "nn/lstm.h"
#include "nn/optim/adam.h"
#include "nn/rnn.h"

namespace loom::airline {
namespace {

// How many months before t the transformed value d_t reaches back: 12 (seasonal difference), or
// 13 with the first difference after it.
int64_t lag_of(const ForecastConfig& c) {
  return c.first_difference ? 13 : 12;
}

// The recurrent layer (an LSTM or a tanh RNN) and the linear head, behind one call:
// u windows [window, N, 1] -> [N].
class Regressor {
 public:
  Regressor(const ForecastConfig& c, Generator& gen) {
    LOOM_CHECK(c.cell == "lstm" || c.cell == "rnn", "--cell must be lstm or rnn, got '", c.cell,
               "'");
    if (c.cell == "lstm")
      lstm_ = std::make_unique<nn::LSTM>(nn::LSTMOptions(1, c.hidden), gen);
    else
      rnn_ = std::make_unique<nn::RNN>(nn::RNNOptions(1, c.hidden), gen);
    fc_ = std::make_unique<nn::Linear>(nn::LinearOptions(c.hidden, 1), gen);
    recurrent().to(DType::Float64);
    fc_->to(DType::Float64);
  }
  Variable forward(const Tensor& x) {
    const Variable h = lstm_ ? squeeze(lstm_->forward_full(Variable(x)).h_n, 0)
                             : squeeze(rnn_->forward_full(Variable(x)).h_n, 0);
    return reshape(fc_->forward(h), {-1});
  }
  std::vector<Variable> parameters() {
    std::vector<Variable> p = recurrent().parameters();
    for (const Variable& v : fc_->parameters())
      p.push_back(v);
    return p;
  }
  double predict(const std::vector<double>& window) {  // one window of scaled values
    NoGradGuard no_grad;
    const int64_t w = static_cast<int64_t>(window.size());
    return forward(from_vector<double>(window, {w, 1, 1})).data().item<double>();
  }

 private:
  nn::Module& recurrent() { return lstm_ ? static_cast<nn::Module&>(*lstm_) : *rnn_; }
  std::unique_ptr<nn::LSTM> lstm_;
  std::unique_ptr<nn::RNN> rnn_;
  std::unique_ptr<nn::Linear> fc_;
};

// u[i] is the scaled d of month i + lag.
std::vector<double> window_before(const std::vector<double>& u, int64_t lag, int64_t month,
                                  int64_t w) {
  const auto first = u.begin() + (month - lag - w);
  return std::vector<double>(first, first + w);
}

void train(Regressor& model, const std::vector<double>& u, const ForecastConfig& c,
           double* final_loss) {
  const int64_t lag = lag_of(c), first = lag + c.window, n = c.train_months - first;
  std::vector<double> x(static_cast<size_t>(c.window * n)), y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<double> w = window_before(u, lag, first + i, c.window);
    for (int64_t t = 0; t < c.window; ++t)
      x[static_cast<size_t>(t * n + i)] = w[static_cast<size_t>(t)];
    y[static_cast<size_t>(i)] = u[static_cast<size_t>(first + i - lag)];
  }
  const Tensor xt = from_vector<double>(x, {c.window, n, 1}), yt = from_vector<double>(y, {n});
  nn::optim::Adam adam(model.parameters(), nn::optim::AdamOptions(c.lr));
  for (int64_t epoch = 0; epoch < c.epochs; ++epoch) {  // full batch: the whole training set
    adam.zero_grad(true);
    const Variable loss = nn::mse_loss(model.forward(xt), yt);
    loss.backward();
    adam.step();
    *final_loss = loss.data().item<double>();
  }
}

// Adds `weight` x this net's forecasts to r.one_step (each test month from the true past) and
// r.ahead (the recursive forecast from c.origin, its own forecasts fed back).
void forecast_one_net(Regressor& model, const std::vector<double>& z, const std::vector<double>& u,
                      const MinMaxScaler& scaler, const ForecastConfig& c, double weight,
                      ForecastResult& r) {
  const int64_t lag = lag_of(c), n = static_cast<int64_t>(z.size());
  auto z_of = [&](const std::vector<double>& zz, int64_t t, double d_hat) {
    const double z12 = zz[static_cast<size_t>(t - 12)];
    return c.first_difference
               ? d_hat + zz[static_cast<size_t>(t - 1)] + z12 - zz[static_cast<size_t>(t - 13)]
               : d_hat + z12;
  };
  for (int64_t t = c.train_months; t < n; ++t) {  // one step ahead: the true past every month
    const double d_hat = scaler.inverse(model.predict(window_before(u, lag, t, c.window)));
    r.one_step[static_cast<size_t>(t - c.train_months)] += weight * std::exp(z_of(z, t, d_hat));
  }
  std::vector<double> zz(z.begin(), z.begin() + c.origin),
      uu(u.begin(), u.begin() + (c.origin - lag));
  for (int64_t t = c.origin; t < c.origin + c.horizon; ++t) {  // recursive: its own forecasts
    const double u_hat = model.predict(window_before(uu, lag, t, c.window));
    zz.push_back(z_of(zz, t, scaler.inverse(u_hat)));
    uu.push_back(u_hat);
    r.ahead[static_cast<size_t>(t - c.origin)] += weight * std::exp(zz.back());
  }
}

}  // namespace

int64_t forecaster_min_months(const ForecastConfig& c) {
  return std::max(c.train_months + 1, c.origin + c.horizon);
}

ForecastResult run_forecaster(const MonthlySeries& s, const ForecastConfig& c, uint64_t seed) {
  const int64_t n = s.size();
  const int64_t lag = lag_of(c);
  LOOM_CHECK(c.window >= 1 && c.train_months >= lag + c.window + 8, "forecast: ", c.train_months,
             " training months are too few for windows of ", c.window,
             " (the differences use 13 months, and at least 8 windows are needed)");
  LOOM_CHECK(c.train_months < n && c.origin >= c.train_months && c.origin + c.horizon <= n,
             s.source, ": ", n, " months; the forecaster trains on ", c.train_months,
             " and forecasts ", c.horizon, " from month ", c.origin);
  LOOM_CHECK(c.members >= 1, "--members must be at least 1, got ", c.members);
  const std::vector<double> z = log_transform(s.values);
  const std::vector<double> seasonal = difference(z, 12);  // d[i]: month i + lag
  const std::vector<double> d = c.first_difference ? difference(seasonal, 1) : seasonal;
  const MinMaxScaler scaler(std::vector<double>(d.begin(), d.begin() + (c.train_months - lag)));
  const std::vector<double> u = scaler.apply(d);
  ForecastResult r;
  r.seed = seed;
  r.one_step.assign(static_cast<size_t>(n - c.train_months), 0.0);
  r.ahead.assign(static_cast<size_t>(c.horizon), 0.0);
  const double share = 1.0 / static_cast<double>(c.members);
  for (int64_t m = 0; m < c.members; ++m) {  // each member's forecasts, averaged into r
    Generator gen(seed + 1000 * static_cast<uint64_t>(m));
    Regressor model(c, gen);
    double loss = 0;
    train(model, u, c, &loss);
    r.final_train_loss += share * loss;
    forecast_one_net(model, z, u, scaler, c, share, r);
  }
  const std::vector<double> test(s.values.begin() + c.train_months, s.values.end());
  r.rmse_one_step = rmse(r.one_step, test);
  r.rmse_ahead = rmse(r.ahead, std::vector<double>(s.values.begin() + c.origin,
                                                   s.values.begin() + c.origin + c.horizon));
  return r;
}

}  // namespace loom::airline
