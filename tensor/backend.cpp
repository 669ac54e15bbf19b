// tensor/backend.cpp: the backend registry and backend_for(), loom's one dispatch point.
#include "tensor/backend.h"

#include "tensor/cpu/cpu_backend.h"
#include "tensor/error.h"

namespace loom {
namespace {
Backend* g_backends[2] = {nullptr, nullptr};  // indexed by DeviceType
}

bool is_comparison(BinaryOp op) {
  return op >= BinaryOp::Eq;
}

const char* unary_op_name(UnaryOp op) {
  static const char* names[] = {"neg",  "exp",  "log", "tanh", "sigmoid",
                                "relu", "sqrt", "abs", "sign"};
  return names[static_cast<int>(op)];
}

const char* binary_op_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "maximum", "minimum", "pow",
                                "eq",  "ne",  "lt",  "le",  "gt",      "ge"};
  return names[static_cast<int>(op)];
}

Backend& backend_for(Device device) {
  if (device.is_cpu()) return cpu::cpu_backend();
  Backend* b = g_backends[static_cast<int>(device.type)];
  LOOM_CHECK(
      b != nullptr, "device ", device.str(),
      ": this build has no CUDA backend (configure with -DLOOM_CUDA=ON and link loom::cuda)");
  return *b;
}

void register_backend(DeviceType type, Backend* backend) {
  g_backends[static_cast<int>(type)] = backend;
}

bool has_backend(DeviceType type) {
  return type == DeviceType::CPU || g_backends[static_cast<int>(type)] != nullptr;
}

}  // namespace loom
