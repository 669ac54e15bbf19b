// autograd/grad_mode.cpp: the thread-local "record the graph?" flag.
#include "autograd/grad_mode.h"

namespace loom {
namespace {
thread_local bool g_grad_enabled = true;
}
bool is_grad_enabled() {
  return g_grad_enabled;
}
void set_grad_enabled(bool enabled) {
  g_grad_enabled = enabled;
}
}  // namespace loom
