// tensor/dtype.h: the element types a loom Tensor can hold.
//
// DType is a plain enum so that it can cross the backend interface (and the CUDA
// boundary) without templates. Code that needs the C++ type uses dispatch_dtype()
// in tensor/cpu/dtype_dispatch.h. float16 on the CPU is Eigen::half; on the GPU, __half.
// Both are IEEE binary16, so the bytes are the same on both sides. bfloat16 is the top half of a
// float32 (8-bit exponent, 7 stored significand bits): Eigen::bfloat16 on the CPU. int8 and
// uint8 are the element types of quantised GEMMs (tensor/cpu/gemm/gemm.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace loom {

enum class DType : std::uint8_t {
  Float64,
  Float32,
  Float16,
  Int32,
  Int64,
  Bool,
  BFloat16,
  Int8,
  UInt8
};
// Every DType, in enum order (for loops over the names).
inline constexpr DType kEveryDType[] = {DType::Float64,  DType::Float32, DType::Float16,
                                        DType::Int32,    DType::Int64,   DType::Bool,
                                        DType::BFloat16, DType::Int8,    DType::UInt8};

// Bytes per element.
std::size_t dtype_size(DType dtype);
// PyTorch-style names: "float64", "float32", "float16", "int32", "int64", "bool", "bfloat16",
// "int8", "uint8".
const char* dtype_name(DType dtype);
// Inverse of dtype_name; throws std::invalid_argument naming the text on an unknown name.
DType dtype_from_name(const std::string& name);
// float64, float32, float16 and bfloat16.
bool is_floating(DType dtype);

}  // namespace loom
