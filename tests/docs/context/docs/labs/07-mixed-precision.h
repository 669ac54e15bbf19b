// tests/docs/context/docs/labs/07-mixed-precision.h: what the sample of
// docs/labs/07-mixed-precision.md takes from the code it was lifted from, train_with_scaler in
// tests/nn/amp_training_util.h (the model and the run's settings are that function's arguments).
#pragma once

#include "tests/nn/amp_training_util.h"

using namespace loom::nn;
using namespace loom::nn::testing_amp;

struct TinySentiment : Module {  // tests/nn/amp_training_test.cpp: ids [B, T] -> logits [B, 1]
  Variable forward(const loom::Tensor& ids);
};
extern TinySentiment model;
extern const bool mixed;
extern const double init_scale;
extern const AmpTrainSpec spec;
