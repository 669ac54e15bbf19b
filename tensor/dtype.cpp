// tensor/dtype.cpp: sizes and names of the element types.
#include "tensor/dtype.h"

#include <stdexcept>

namespace loom {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::Float64:
      return 8;
    case DType::Float32:
      return 4;
    case DType::Float16:
      return 2;
    case DType::Int32:
      return 4;
    case DType::Int64:
      return 8;
    case DType::Bool:
      return 1;
    case DType::BFloat16:
      return 2;
    case DType::Int8:
    case DType::UInt8:
      return 1;
  }
  throw std::invalid_argument("dtype_size: unknown DType value");
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float64:
      return "float64";
    case DType::Float32:
      return "float32";
    case DType::Float16:
      return "float16";
    case DType::Int32:
      return "int32";
    case DType::Int64:
      return "int64";
    case DType::Bool:
      return "bool";
    case DType::BFloat16:
      return "bfloat16";
    case DType::Int8:
      return "int8";
    case DType::UInt8:
      return "uint8";
  }
  return "unknown";
}

DType dtype_from_name(const std::string& name) {
  static_assert(sizeof(kEveryDType) / sizeof(kEveryDType[0]) == int(DType::UInt8) + 1,
                "kEveryDType lists every DType");
  for (DType d : kEveryDType) {
    if (name == dtype_name(d)) return d;
  }
  throw std::invalid_argument("unknown dtype '" + name +
                              "' (expected float64, float32, float16, bfloat16, int32, int64, "
                              "int8, uint8 or bool)");
}

bool is_floating(DType dtype) {
  return dtype == DType::Float64 || dtype == DType::Float32 || dtype == DType::Float16 ||
         dtype == DType::BFloat16;
}

}  // namespace loom
