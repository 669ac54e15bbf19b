// tensor/device.cpp: parsing and printing of Device.
#include "tensor/device.h"

#include <stdexcept>

namespace loom {

Device::Device(const std::string& spec) {
  if (spec == "cpu") {
    type = DeviceType::CPU;
    index = 0;
    return;
  }
  if (spec == "cuda") {
    type = DeviceType::CUDA;
    index = 0;
    return;
  }
  const std::string prefix = "cuda:";
  if (spec.rfind(prefix, 0) == 0 && spec.size() > prefix.size()) {
    const std::string digits = spec.substr(prefix.size());
    bool all_digits = digits.size() <= 4;
    for (char c : digits)
      all_digits = all_digits && (c >= '0' && c <= '9');
    if (all_digits) {
      type = DeviceType::CUDA;
      index = std::stoi(digits);
      return;
    }
  }
  throw std::invalid_argument("unknown device '" + spec + "' (expected cpu, cuda or cuda:N)");
}

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

}  // namespace loom
