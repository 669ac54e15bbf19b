// nn/serialize.h: checkpoints: a Module's state_dict (and optionally an optimizer's state) in a
// safetensors file (nn/safetensors.h), with PyTorch's state_dict names.
//
// Tensors: "<param name>" for every parameter, exactly as torch's model.state_dict() names it
// ("embedding.weight", "lstm.weight_ih_l0"); "optim.<param name>.<buffer>" for optimizer buffers
// ("optim.linear.weight.exp_avg") and "optim.<param name>.step" (0-d Int64) for the steps that
// parameter has taken. Metadata: the caller's strings, plus "format" = "loom-checkpoint-1" and,
// with an optimizer, "optim.type" ("Adam") and "optim.lr". How PyTorch loads the file and loom
// loads PyTorch's: docs/labs/03-layers.md, "Checkpoints". Writes are atomic (save_safetensors
// writes a temporary file and renames it).
//
// Leaves out: sharded files, lazy loading, converting dtypes on load (a float64 file does not
// load into a float32 model: the error names the tensor).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "nn/module.h"
#include "nn/optim/optimizer.h"
#include "nn/safetensors.h"

namespace loom::nn {

// One tensor <-> one record (copied to/from host memory; any dtype loom has).
TensorRecord tensor_to_record(const std::string& name, const Tensor& t);
Tensor record_to_tensor(const TensorRecord& record, Device device = kCPU);

// Model only.
void save(const Module& module, const std::string& path,
          const std::map<std::string, std::string>& metadata = {});
// Loads every parameter of `module` from `path` (strict: the file's non-"optim." names must be
// exactly the module's). Tensors land on each parameter's device. Returns the file's metadata.
std::map<std::string, std::string> load(Module& module, const std::string& path,
                                        bool strict = true);

// Model and optimizer in one file (for --resume).
void save(const Module& module, const optim::Optimizer& optimizer, const std::string& path,
          const std::map<std::string, std::string>& metadata = {});
// Checks "optim.type" against the optimizer's type; restores the learning rate too.
std::map<std::string, std::string> load(Module& module, optim::Optimizer& optimizer,
                                        const std::string& path, bool strict = true);

}  // namespace loom::nn
