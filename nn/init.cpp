// nn/init.cpp: the fills of nn/init.h, on top of tensor/'s uniform() and normal() factories.
#include "nn/init.h"

#include <cmath>

namespace loom::nn::init {

void uniform_(const Tensor& t, double low, double high, Generator& gen) {
  LOOM_CHECK(t.defined(), "init::uniform_: undefined tensor");
  LOOM_CHECK(low <= high, "init::uniform_: low ", low, " > high ", high);
  t.copy_(uniform(t.shape(), low, high, gen, TensorOptions(t.dtype(), t.device())));
}

void normal_(const Tensor& t, double mean, double stddev, Generator& gen) {
  LOOM_CHECK(t.defined(), "init::normal_: undefined tensor");
  LOOM_CHECK(stddev >= 0, "init::normal_: negative stddev ", stddev);
  t.copy_(normal(t.shape(), mean, stddev, gen, TensorOptions(t.dtype(), t.device())));
}

void zeros_(const Tensor& t) {
  LOOM_CHECK(t.defined(), "init::zeros_: undefined tensor");
  t.fill_(0);
}

double kaiming_uniform_bound(int64_t fan_in, double a) {
  LOOM_CHECK(fan_in > 0, "init::kaiming_uniform_bound: fan_in must be > 0, got ", fan_in);
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  return gain * std::sqrt(3.0 / static_cast<double>(fan_in));
}

double linear_bound(int64_t in_features) {
  LOOM_CHECK(in_features > 0, "init::linear_bound: in_features must be > 0, got ", in_features);
  return 1.0 / std::sqrt(static_cast<double>(in_features));
}

double lstm_bound(int64_t hidden_size) {
  LOOM_CHECK(hidden_size > 0, "init::lstm_bound: hidden_size must be > 0, got ", hidden_size);
  return 1.0 / std::sqrt(static_cast<double>(hidden_size));
}

}  // namespace loom::nn::init
