// nn/safetensors.h: read and write the safetensors checkpoint format at the record level.
//
//   [8 bytes]  N, the header length, unsigned little-endian
//   [N bytes]  a JSON object, padded with spaces so that 8 + N is a multiple of 8:
//                {"__metadata__": {"key": "value", ...},            (optional, strings only)
//                 "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
//   [rest]     each tensor's raw little-endian row-major bytes at [begin, end) of this region;
//              the tensors tile it exactly (no gaps, no overlaps, nothing after the last one).
// Names are PyTorch's state_dict names ("lstm.weight_ih_l0"). This file knows nothing of
// loom::Tensor: a TensorRecord is a name, a dtype, a shape and the bytes; nn/serialize.h maps
// records onto a Module and an optimizer (docs/labs/03-layers.md, "Checkpoints").
//
// Leaves out: memory-mapping (checkpoints here are megabytes, so files are read whole), the
// dtypes loom has no type for (I16, U16, U32, U64, F8_*, F6_*, F4, C64: rejected with a message
// naming the tensor), and big-endian hosts (refused at compile time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/shape.h"

namespace loom::nn {

// One tensor as stored in a file. `bytes` holds numel(shape) * dtype_size(dtype) bytes,
// little-endian, row-major. A 0-d tensor has an empty shape and one element; a tensor with a
// zero in its shape has no bytes.
struct TensorRecord {
  std::string name;
  DType dtype = DType::Float32;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> bytes;
};

// Everything a file holds. `tensors` come back in file order (ascending data offset), which for
// files loom wrote is the writer's order: larger elements first, then by name.
struct SafetensorsContents {
  std::vector<TensorRecord> tensors;
  std::map<std::string, std::string> metadata;  // the "__metadata__" object; empty if absent

  // The record called `name`, or nullptr.
  const TensorRecord* find(const std::string& name) const;
  // The record called `name`; throws loom::Error naming it if absent.
  const TensorRecord& at(const std::string& name) const;
};

// Writes `tensors` and `metadata` to `path` atomically: the bytes go to "<path>.tmp.<pid>",
// which is fsync'ed and then renamed over `path`, so a crash leaves either the old file or the
// new one, never half of one. Checks each record (unique non-empty names, no "__metadata__",
// non-negative shape, bytes.size() matching the shape) and throws loom::Error naming the
// record on a mismatch, before anything is written.
void save_safetensors(const std::string& path, const std::vector<TensorRecord>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Writes `size` bytes to `path` the same atomic way (what save_safetensors uses; the imdb app
// writes its JSON files with it too). Throws loom::Error naming the file on any failure.
void write_file_atomically(const std::string& path, const void* data, std::size_t size);

// Reads and validates `path`. Any problem (missing file, truncation, bad header length, JSON
// syntax, a missing or malformed field, unsupported dtype, offsets out of range, overlapping
// or leaving gaps, a size that does not match dtype x shape, duplicate names, a BOOL byte that
// is not 0 or 1) throws loom::Error naming the file, the tensor and the problem.
SafetensorsContents load_safetensors(const std::string& path);

// The same two operations on a byte buffer, without the file system. `source` names the
// buffer in error messages (load_safetensors passes the path).
std::vector<std::uint8_t> encode_safetensors(const std::vector<TensorRecord>& tensors,
                                             const std::map<std::string, std::string>& metadata);
SafetensorsContents decode_safetensors(const std::vector<std::uint8_t>& file,
                                       const std::string& source);

// safetensors' dtype strings for loom's dtypes: "F64" "F32" "F16" "BF16" "I32" "I64" "I8" "U8"
// "BOOL".
const char* safetensors_dtype_name(DType dtype);

// Typed helpers for tests and for code that has plain vectors. `T` must match `dtype` in size
// (double for Float64, float for Float32, std::int64_t for Int64, ...); Float16, BFloat16 and
// Bool records carry their raw bytes (uint16_t / uint8_t).
template <typename T>
TensorRecord make_record(std::string name, DType dtype, std::vector<std::int64_t> shape,
                         const std::vector<T>& values) {
  LOOM_CHECK(sizeof(T) == dtype_size(dtype), "make_record('", name, "'): element size ", sizeof(T),
             " does not match dtype ", dtype_name(dtype));
  LOOM_CHECK(static_cast<std::int64_t>(values.size()) == numel(shape), "make_record('", name,
             "'): ", values.size(), " values for shape ", shape_str(shape));
  TensorRecord r{std::move(name), dtype, std::move(shape), {}};
  r.bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(r.bytes.data(), values.data(), r.bytes.size());
  return r;
}

template <typename T>
std::vector<T> record_values(const TensorRecord& record) {
  LOOM_CHECK(sizeof(T) == dtype_size(record.dtype), "record_values('", record.name,
             "'): element size ", sizeof(T), " does not match dtype ", dtype_name(record.dtype));
  std::vector<T> values(record.bytes.size() / sizeof(T));
  if (!values.empty()) std::memcpy(values.data(), record.bytes.data(), record.bytes.size());
  return values;
}

}  // namespace loom::nn
