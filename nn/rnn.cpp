// nn/rnn.cpp: the RNN module: parameters, argument checks, batch_first, and the choice between
// the composed (nn/rnn_composed.cpp) and the fused (nn/rnn_fused.cpp) layer.
#include "nn/rnn.h"

#include "autograd/functions.h"
#include "nn/init.h"

namespace loom::nn {

RNN::RNN(const RNNOptions& options, Generator& g) : Module("RNN"), options_(options) {
  const int64_t in = options_.input_size(), H = options_.hidden_size();
  LOOM_CHECK(in > 0 && H > 0, "RNN: input_size (", in, ") and hidden_size (", H, ") must be > 0");
  const double bound = init::lstm_bound(H);  // PyTorch's 1/sqrt(H) for every recurrent layer
  auto param = [&](const std::string& name, const Shape& shape) {
    Variable v(empty(shape));
    init::uniform_(v.data(), -bound, bound, g);
    return register_parameter(name, v);
  };
  params_.w_ih = param("weight_ih_l0", {H, in});
  params_.w_hh = param("weight_hh_l0", {H, H});
  params_.b_ih = param("bias_ih_l0", {H});
  params_.b_hh = param("bias_hh_l0", {H});
}

RnnOutput RNN::forward_full(const Variable& x, const Variable& h0) {
  const int64_t H = options_.hidden_size();
  LOOM_CHECK(x.defined() && x.dim() == 3, "RNN: input must be 3-D ([T, B, in], or [B, T, in] ",
             "with batch_first), got ", x.defined() ? shape_str(x.shape()) : "undefined");
  LOOM_CHECK(x.size(2) == options_.input_size(), "RNN: input has ", x.size(2),
             " features (last dim of ", shape_str(x.shape()), "), input_size is ",
             options_.input_size());
  LOOM_CHECK(x.dtype() == params_.w_ih.dtype(), "RNN: input is ", dtype_name(x.dtype()),
             ", the parameters are ", dtype_name(params_.w_ih.dtype()));
  const Variable xt = options_.batch_first() ? transpose(x, 0, 1) : x;  // time-major inside
  const int64_t B = xt.size(1);
  Variable h;
  if (h0.defined()) {
    LOOM_CHECK(h0.shape() == Shape({1, B, H}) && h0.dtype() == x.dtype(), "RNN: h0 must be ",
               shape_str({1, B, H}), " ", dtype_name(x.dtype()), ", got ", shape_str(h0.shape()),
               " ", dtype_name(h0.dtype()));
    h = select(h0, 0, 0);
  } else {
    h = Variable(zeros({B, H}, TensorOptions(x.dtype(), x.device())));
  }
  const RnnLayerOutput r = options_.impl() == RnnImpl::Composed ? rnn_layer_composed(xt, h, params_)
                                                                : rnn_layer_fused(xt, h, params_);
  return {options_.batch_first() ? transpose(r.out, 0, 1) : r.out, unsqueeze(r.h_n, 0)};
}

}  // namespace loom::nn
