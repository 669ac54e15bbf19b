// nn/serialize.cpp: Module/optimizer state <-> safetensors records (layout in serialize.h).
#include "nn/serialize.h"

#include <cstring>

namespace loom::nn {

namespace {
const char* const kOptimPrefix = "optim.";

bool has_prefix(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::map<std::string, std::string> with_format(std::map<std::string, std::string> metadata) {
  metadata["format"] = "loom-checkpoint-1";
  return metadata;
}

// The module's part of a file: every record whose name does not start with "optim.".
StateDict model_dict(const SafetensorsContents& file, const Module& module) {
  StateDict dict;
  // Each tensor goes to its parameter's device.
  const auto params = module.named_parameters();
  for (const TensorRecord& r : file.tensors) {
    if (has_prefix(r.name, kOptimPrefix)) continue;
    Device dev = kCPU;
    for (const auto& np : params)
      if (np.first == r.name) dev = np.second.device();
    dict.emplace_back(r.name, record_to_tensor(r, dev));
  }
  return dict;
}
}  // namespace

TensorRecord tensor_to_record(const std::string& name, const Tensor& t) {
  LOOM_CHECK(t.defined(), "tensor_to_record('", name, "'): undefined tensor");
  const Tensor c = t.to(kCPU).contiguous();
  TensorRecord r;
  r.name = name;
  r.dtype = c.dtype();
  r.shape.assign(c.shape().begin(), c.shape().end());
  r.bytes.resize(static_cast<size_t>(c.numel()) * dtype_size(c.dtype()));
  if (!r.bytes.empty()) std::memcpy(r.bytes.data(), c.raw_data(), r.bytes.size());
  return r;
}

Tensor record_to_tensor(const TensorRecord& record, Device device) {
  const Shape shape(record.shape.begin(), record.shape.end());
  Tensor t = empty(shape, TensorOptions(record.dtype, kCPU));
  LOOM_CHECK(record.bytes.size() == static_cast<size_t>(t.numel()) * dtype_size(record.dtype),
             "record_to_tensor('", record.name, "'): ", record.bytes.size(), " bytes for ",
             dtype_name(record.dtype), " ", shape_str(shape));
  if (!record.bytes.empty()) std::memcpy(t.raw_data(), record.bytes.data(), record.bytes.size());
  return t.to(device);
}

void save(const Module& module, const std::string& path,
          const std::map<std::string, std::string>& metadata) {
  std::vector<TensorRecord> records;
  for (const auto& [name, t] : module.state_dict())
    records.push_back(tensor_to_record(name, t));
  save_safetensors(path, records, with_format(metadata));
}

std::map<std::string, std::string> load(Module& module, const std::string& path, bool strict) {
  const SafetensorsContents file = load_safetensors(path);
  try {
    module.load_state_dict(model_dict(file, module), strict);
  } catch (const Error& e) {
    throw Error(std::string("load('") + path + "'): " + e.what());
  }
  return file.metadata;
}

void save(const Module& module, const optim::Optimizer& optimizer, const std::string& path,
          const std::map<std::string, std::string>& metadata) {
  std::vector<TensorRecord> records;
  for (const auto& [name, t] : module.state_dict())
    records.push_back(tensor_to_record(name, t));
  for (const auto& [name, t] : optimizer.state_dict())
    records.push_back(tensor_to_record(kOptimPrefix + name, t));
  auto meta = with_format(metadata);
  meta["optim.type"] = optimizer.type_name();
  std::ostringstream lr;
  lr.precision(17);
  lr << optimizer.lr();
  meta["optim.lr"] = lr.str();
  save_safetensors(path, records, meta);
}

std::map<std::string, std::string> load(Module& module, optim::Optimizer& optimizer,
                                        const std::string& path, bool strict) {
  const SafetensorsContents file = load_safetensors(path);
  const auto type = file.metadata.find("optim.type");
  LOOM_CHECK(type != file.metadata.end(), "load('", path,
             "'): the file has no optimizer state (no \"optim.type\" in its metadata)");
  LOOM_CHECK(type->second == optimizer.type_name(), "load('", path, "'): the file holds ",
             type->second, " state but the optimizer is ", optimizer.type_name());
  StateDict optim_dict;
  for (const TensorRecord& r : file.tensors)
    if (has_prefix(r.name, kOptimPrefix))
      optim_dict.emplace_back(r.name.substr(std::strlen(kOptimPrefix)), record_to_tensor(r));
  try {
    module.load_state_dict(model_dict(file, module), strict);
    optimizer.load_state_dict(optim_dict);
  } catch (const Error& e) {
    throw Error(std::string("load('") + path + "'): " + e.what());
  }
  const auto lr = file.metadata.find("optim.lr");
  if (lr != file.metadata.end()) optimizer.set_lr(std::stod(lr->second));
  return file.metadata;
}

}  // namespace loom::nn
