// tests/nn/lstm_recurrent_dropout_test.cpp: Keras' recurrent_dropout in loom's LSTM (lab 04).
//
// One mask per sequence on h_{t-1}, shared by every timestep, inverted (kept units scaled by
// 1 / (1 - p)), in training mode only. Checked here: a unit the mask drops never reaches the gates
// (its dh0 is exactly zero, and changing it changes nothing); the module draws exactly one [B, H]
// mask per layer and direction from its generator (the same output as the layer run by hand with
// that one mask for every step); eval mode ignores it; bad probabilities are refused. Gradients
// with dropout: lstm_gradcheck_test.cpp; composed = fused with dropout: lstm_equivalence_test.cpp.
#include <gtest/gtest.h>

#include "autograd/functions.h"
#include "nn/dropout.h"
#include "nn/lstm.h"
#include "tests/common/error_of.h"

namespace {

using namespace loom;

nn::LstmParams random_params(int64_t in, int64_t H, Generator& g) {
  auto u = [&](const Shape& s) { return Variable(uniform(s, -0.5, 0.5, g, DType::Float64), true); };
  return {u({4 * H, in}), u({4 * H, H}), u({4 * H}), u({4 * H})};
}

TEST(LstmRecurrentDropout, ADroppedUnitReachesNoStep) {
  const int64_t T = 6, B = 2, in = 3, H = 4;
  Generator g(3);
  const nn::LstmParams p = random_params(in, H, g);
  const Variable x(uniform({T, B, in}, -1, 1, g, DType::Float64), true);
  const Variable h0(uniform({B, H}, -1, 1, g, DType::Float64), true);
  const Variable c0(zeros({B, H}, DType::Float64));
  // Row 0 drops unit 2, row 1 drops unit 0; the kept units are scaled by 1 / (1 - 0.5).
  const Tensor mask = tensor({2, 2, 0, 2, 0, 2, 2, 2}, {B, H}, DType::Float64);
  for (nn::LstmImpl impl : {nn::LstmImpl::Composed, nn::LstmImpl::Fused}) {
    for (const Variable* v : {&x, &h0, &p.w_hh})
      v->set_grad(Tensor());
    const nn::LstmLayerOutput y = impl == nn::LstmImpl::Fused
                                      ? nn::lstm_layer_fused(x, h0, c0, p, false, false, mask)
                                      : nn::lstm_layer_composed(x, h0, c0, p, false, mask);
    sum(y.out).backward();
    // dh0[b, j] = (da_0 W_hh)[b, j] * mask[b, j]: zero exactly where the mask drops.
    const std::vector<double> dh0 = h0.grad().to_vector<double>();
    EXPECT_EQ(dh0[0 * H + 2], 0.0);
    EXPECT_EQ(dh0[1 * H + 0], 0.0);
    EXPECT_NE(dh0[0 * H + 0], 0.0);
    // And a dropped unit of h0 is invisible: changing it changes no output at all.
    const Tensor h0_perturbed = h0.data().clone();
    h0_perturbed.narrow(0, 0, 1).narrow(1, 2, 1).fill_(5.0);
    const nn::LstmLayerOutput z =
        impl == nn::LstmImpl::Fused
            ? nn::lstm_layer_fused(x, Variable(h0_perturbed), c0, p, false, false, mask)
            : nn::lstm_layer_composed(x, Variable(h0_perturbed), c0, p, false, mask);
    EXPECT_EQ(max(abs(sub(z.out.data(), y.out.data()))).item<double>(), 0.0);
  }
}

TEST(LstmRecurrentDropout, TheModuleDrawsOneMaskPerSequenceAndOnlyInTraining) {
  const int64_t T = 5, B = 3, in = 4, H = 6;
  const double p = 0.4;
  Generator init(8);
  nn::LSTM lstm(nn::LSTMOptions(in, H).recurrent_dropout(p).impl(nn::LstmImpl::Fused), init);
  const Variable x(uniform({T, B, in}, -1, 1, init, DType::Float32));
  Generator masks(21);
  lstm.set_dropout_generator(masks);
  const nn::LstmOutput trained = lstm.forward_full(x);  // training mode by default
  // The same function by hand: one [B, H] mask from the same seed, the layer run once.
  Generator same(21);
  const Tensor mask = nn::dropout_mask({B, H}, p, same, DType::Float32);
  const Variable zero(zeros({B, H}));
  const nn::LstmLayerOutput want =
      nn::lstm_layer_fused(x, zero, zero, lstm.params()[0], false, false, mask);
  EXPECT_EQ(max(abs(sub(trained.output.data(), want.out.data()))).item<double>(), 0.0);
  lstm.eval();  // no mask
  const nn::LstmOutput evaluated = lstm.forward_full(x);
  const nn::LstmLayerOutput plain =
      nn::lstm_layer_fused(x, zero, zero, lstm.params()[0], false, false);
  EXPECT_EQ(max(abs(sub(evaluated.output.data(), plain.out.data()))).item<double>(), 0.0);
  EXPECT_GT(max(abs(sub(trained.output.data(), evaluated.output.data()))).item<double>(), 1e-3);
}

TEST(LstmRecurrentDropout, ProbabilitiesOutsideZeroToOneAreRefused) {
  EXPECT_NE(test::error_of([] {
              nn::LSTM(nn::LSTMOptions(2, 3).recurrent_dropout(1.0));
            }).find("recurrent_dropout"),
            std::string::npos);
  EXPECT_THROW(nn::LSTM(nn::LSTMOptions(2, 3).recurrent_dropout(-0.1)), Error);
}

}  // namespace
