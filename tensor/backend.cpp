// tensor/backend.cpp: the backend registry, backend_for() (loom's one dispatch point), op names.
#include "tensor/backend.h"

#include <iterator>

#include "tensor/cpu/backend.h"
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
  static_assert(std::size(names) == static_cast<std::size_t>(UnaryOp::kCount),
                "unary_op_name: one name per UnaryOp");
  return names[static_cast<int>(op)];
}

const char* binary_op_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "maximum", "minimum", "pow",
                                "eq",  "ne",  "lt",  "le",  "gt",      "ge"};
  static_assert(std::size(names) == static_cast<std::size_t>(BinaryOp::kCount),
                "binary_op_name: one name per BinaryOp");
  return names[static_cast<int>(op)];
}

const char* scalar_op_name(ScalarOp op) {
  static const char* names[] = {"add", "mul",        "div",     "rsub",    "rdiv",
                                "pow", "leaky_relu", "maximum", "minimum", "elu"};
  static_assert(std::size(names) == static_cast<std::size_t>(ScalarOp::kCount),
                "scalar_op_name: one name per ScalarOp");
  return names[static_cast<int>(op)];
}

const char* reduce_op_name(ReduceOp op) {
  static const char* names[] = {"sum", "max", "min", "argmax"};
  static_assert(std::size(names) == static_cast<std::size_t>(ReduceOp::kCount),
                "reduce_op_name: one name per ReduceOp");
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

FusedKernels& fused_kernels_for(Device device, const char* op) {
  Backend& b = backend_for(device);
  FusedKernels* f = b.fused();
  LOOM_CHECK(f != nullptr, op, ": backend ", b.name(), " (", device.str(),
             ") has no fused kernels (tensor/fused_kernels.h)");
  return *f;
}

void register_backend(DeviceType type, Backend* backend) {
  g_backends[static_cast<int>(type)] = backend;
}

bool has_backend(DeviceType type) {
  return type == DeviceType::CPU || g_backends[static_cast<int>(type)] != nullptr;
}

}  // namespace loom
