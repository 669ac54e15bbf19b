// tensor/dtype.h: the element types a loom Tensor can hold.
//
// DType is a plain enum so that it can cross the backend interface (and the CUDA
// boundary) without templates. Code that needs the C++ type uses dispatch_dtype()
// in tensor/cpu/dtype_dispatch.h. float16 on the CPU is Eigen::half; on the GPU, __half.
// Both are IEEE binary16, so the bytes are the same on both sides.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace loom {

enum class DType : std::uint8_t { Float64, Float32, Float16, Int32, Int64, Bool };

// Bytes per element.
std::size_t dtype_size(DType dtype);
// PyTorch-style names: "float64", "float32", "float16", "int32", "int64", "bool".
const char* dtype_name(DType dtype);
// Inverse of dtype_name; throws std::invalid_argument naming the text on an unknown name.
DType dtype_from_name(const std::string& name);
bool is_floating(DType dtype);

}  // namespace loom
