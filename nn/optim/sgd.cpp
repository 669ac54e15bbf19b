// nn/optim/sgd.cpp: SGD's update (formulas in sgd.h), with tensor ops on any device.
#include "nn/optim/sgd.h"

#include "autograd/grad_mode.h"
#include "tensor/ops.h"

namespace loom::nn::optim {

SGD::SGD(NamedParameters params, const SGDOptions& options)
    : Optimizer(std::move(params), "SGD"), options_(options) {
  check_options();
}
SGD::SGD(const std::vector<Variable>& params, const SGDOptions& options)
    : Optimizer(params, "SGD"), options_(options) {
  check_options();
}

void SGD::check_options() const {
  LOOM_CHECK(options_.lr_ >= 0, "SGD: lr must be >= 0, got ", options_.lr_);
  LOOM_CHECK(options_.momentum_ >= 0, "SGD: momentum must be >= 0, got ", options_.momentum_);
  LOOM_CHECK(options_.weight_decay_ >= 0, "SGD: weight_decay must be >= 0, got ",
             options_.weight_decay_);
  LOOM_CHECK(!options_.nesterov_ || (options_.momentum_ > 0 && options_.dampening_ == 0),
             "SGD: nesterov needs momentum > 0 and dampening 0");
}

std::vector<std::string> SGD::buffer_names() const {
  if (options_.momentum_ == 0) return {};
  return {"momentum_buffer"};
}

void SGD::step() {
  const SGDOptions& o = options_;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Variable& p = params_[i].second;
    if (!p.grad().defined()) continue;
    ParamState& st = state_[i];
    Tensor d = p.grad();
    if (o.weight_decay_ != 0) d = d + mul(p.data(), o.weight_decay_);
    if (o.momentum_ != 0) {
      auto it = st.buffers.find("momentum_buffer");
      if (it == st.buffers.end()) {
        it = st.buffers.emplace("momentum_buffer", d.clone()).first;
      } else {
        it->second.copy_(mul(it->second, o.momentum_) + mul(d, 1.0 - o.dampening_));
      }
      d = o.nesterov_ ? d + mul(it->second, o.momentum_) : it->second;
    }
    p.data().copy_(p.data() - mul(d, o.lr_));
    ++st.step;
  }
}

}  // namespace loom::nn::optim
