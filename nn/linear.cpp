// nn/linear.cpp: Linear's construction (PyTorch's or Keras' init) and forward.
#include "nn/linear.h"

#include "autograd/functions.h"
#include "nn/init.h"

namespace loom::nn {

Linear::Linear(const LinearOptions& options, Generator& gen) : Module("Linear"), options_(options) {
  LOOM_CHECK(options.in_features_ > 0 && options.out_features_ > 0,
             "Linear: in_features and out_features must be > 0, got ", options.in_features_,
             " and ", options.out_features_);
  const bool keras = options.init_ == InitScheme::Keras;
  const double bound = init::linear_bound(options.in_features_);
  Tensor w = empty({options.out_features_, options.in_features_}, options.dtype_);
  if (keras)
    init::glorot_uniform_(w, gen);
  else
    init::uniform_(w, -bound, bound, gen);
  weight = register_parameter("weight", Variable(w));
  if (options.bias_) {
    Tensor b = empty({options.out_features_}, options.dtype_);
    if (keras)
      init::zeros_(b);
    else
      init::uniform_(b, -bound, bound, gen);
    bias = register_parameter("bias", Variable(b));
  }
}

Variable Linear::forward(const Variable& x) {
  LOOM_CHECK(x.dim() >= 1 && x.size(-1) == options_.in_features_, "Linear: input ",
             shape_str(x.shape()), " must end in in_features = ", options_.in_features_);
  // weight.t() is a view: matmul reads it in place through the backend's transpose flag.
  // A 1-D input is treated as one row and the row dim removed again.
  // BEGIN LAB 03 TASK 1
  const bool vec = x.dim() == 1;
  Variable y = matmul(vec ? unsqueeze(x, 0) : x, transpose(weight, 0, 1));
  if (bias.defined()) y = y + bias;
  return vec ? squeeze(y, 0) : y;
  // END LAB 03 TASK 1
}

}  // namespace loom::nn
