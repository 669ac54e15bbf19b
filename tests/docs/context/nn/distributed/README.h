// tests/docs/context/nn/distributed/README.h: what the sample of nn/distributed/README.md takes
// from the program around it: a model, its optimizer, the training data and the settings.
#pragma once

#include "nn/distributed/communicator.h"
#include "nn/distributed/ddp.h"
#include "nn/distributed/metrics.h"

struct Classifier : loom::nn::Module {
  loom::Variable forward(const loom::Tensor& tokens);  // [B, T] -> logits [B, 1]
};
extern Classifier model;
extern loom::nn::optim::Adam opt;
extern const loom::Device device;
extern const loom::Tensor tokens, labels;  // [n_train, T], [n_train, 1]
extern const int64_t n_train, global_batch, epochs;
extern const uint64_t seed;
// Rows whose logit has the sign of their label (logit > 0 for label 1).
int64_t correct_rows(const loom::Variable& logits, const loom::Tensor& labels);
