// autograd/grad_mode.h: turning graph recording off in a scope (inference, optimizer steps).
//
//   {
//     loom::NoGradGuard no_grad;   // ops inside build no graph and save no tensors
//     ...
//   }                              // previous mode restored
//
// The flag is thread-local: a guard on one thread does not affect another.
#pragma once

namespace loom {

bool is_grad_enabled();
void set_grad_enabled(bool enabled);

class NoGradGuard {
 public:
  NoGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace loom
