// tests/nn/distillation_test.cpp: the distillation loss: its closed-form gradient against
// central differences in float64 (several temperatures and weights), its limits (alpha 0 is the
// plain BCE; a student equal to its teacher has no soft loss) and its errors.
#include <gtest/gtest.h>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "nn/distillation.h"
#include "nn/losses.h"
#include "tensor/generator.h"
#include "tensor/ops.h"

namespace loom::nn {
namespace {

TEST(DistillationLoss, GradcheckInFloat64) {
  Generator gen(11);
  const Tensor z = mul(randn({5, 1}, gen, DType::Float64), 3.0);
  const Tensor t = mul(randn({5, 1}, gen, DType::Float64), 3.0);
  const Tensor y = from_vector<double>({1, 0, 0, 1, 1}, {5, 1});
  for (double T : {1.0, 2.0, 5.0}) {
    for (double alpha : {0.0, 0.3, 0.9, 1.0}) {
      SCOPED_TRACE("T " + std::to_string(T) + " alpha " + std::to_string(alpha));
      const DistillationOptions o{T, alpha};
      EXPECT_GRADCHECK(
          [&](const std::vector<Variable>& in) { return distillation_loss(in[0], t, y, o); }, {z});
    }
  }
}

TEST(DistillationLoss, AlphaZeroIsTheLabelsAlone) {
  Generator gen(3);
  const Tensor z = randn({4, 1}, gen, DType::Float64);
  const Tensor t = randn({4, 1}, gen, DType::Float64);
  const Tensor y = from_vector<double>({0, 1, 1, 0}, {4, 1});
  const double plain = bce_with_logits(Variable(z), y).item<double>();
  EXPECT_NEAR(distillation_loss(Variable(z), t, y, {4.0, 0.0}).item<double>(), plain, 1e-12);
}

TEST(DistillationLoss, StudentEqualToTeacherHasNoSoftLossOrGradient) {
  Generator gen(5);
  const Tensor t = mul(randn({6, 1}, gen, DType::Float64), 4.0);
  const Variable z(t.clone(), true);
  const Tensor y = zeros({6, 1}, TensorOptions(DType::Float64));
  const Variable l = distillation_loss(z, t, y, {3.0, 1.0});
  EXPECT_NEAR(l.item<double>(), 0.0, 1e-12);
  l.backward();
  EXPECT_NEAR(max(abs(z.grad())).item<double>(), 0.0, 1e-12);
}

TEST(DistillationLoss, BadInputsThrow) {
  const Variable z(zeros({3, 1}));
  EXPECT_THROW(distillation_loss(z, zeros({3}), zeros({3, 1})), Error);  // teacher shape
  EXPECT_THROW(distillation_loss(z, zeros({3, 1}), zeros({3, 1}, TensorOptions(DType::Float64))),
               Error);  // label dtype
  EXPECT_THROW(distillation_loss(z, zeros({3, 1}), zeros({3, 1}), {0.0, 0.5}), Error);  // T
  EXPECT_THROW(distillation_loss(z, zeros({3, 1}), zeros({3, 1}), {2.0, 1.5}), Error);  // alpha
}

}  // namespace
}  // namespace loom::nn
