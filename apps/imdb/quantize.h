// apps/imdb/quantize.h: `imdb quantize`: a float32 checkpoint -> an int8 one (dynamic
// quantization, as torch.ao.quantization.quantize_dynamic does for Linear and LSTM).
//
// The int8 file is an imdb checkpoint (checkpoint_format.h: the same four metadata strings) with
// a fifth string, "quantization" = kInt8Dynamic. Each weight matrix of a GEMM (the LSTM's
// weight_ih_l0 and weight_hh_l0, linear.weight) is stored as I8 [rows, cols] under its own name
// plus "<name>.scale", F32 [rows]: one symmetric scale per output channel (tensor/quantize.h).
// The embedding and every bias stay F32; the optimizer state is dropped (an int8 model is not
// trained further). apps/imdb/README.md documents the names and dtypes.
// Leaves out: stacked or bidirectional LSTMs and max-mean pooling (refused with a message).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "apps/imdb/checkpoint_format.h"
#include "nn/safetensors.h"

namespace loom::imdb {

inline constexpr const char* kQuantizationKey = "quantization";
inline constexpr const char* kInt8Dynamic = "int8-dynamic-per-channel/1";

// The weights quantize stores as int8 (each with a "<name>.scale" beside it).
std::vector<std::string> int8_weight_names();

// The int8 file's tensors and metadata for a float32 checkpoint read from `path`.
nn::SafetensorsContents quantize_checkpoint(const Checkpoint& checkpoint, const std::string& path);

// The bytes of the tensors a served copy holds: every record but the optimizer's ("optim.*")
// and the loss scaler's ("scaler.*").
std::size_t model_bytes(const nn::SafetensorsContents& file);

// The record called `name`, or a loom::Error naming it and `path`.
const nn::TensorRecord& find_record(const nn::SafetensorsContents& file, const std::string& name,
                                    const std::string& path);

}  // namespace loom::imdb
