// tensor/device.h: where a Tensor's storage lives, "cpu" or "cuda:N".
//
// A Device is a value (type + index). Every device is representable whether or not
// this build has a CUDA backend; asking a missing backend for work is what fails,
// with an error that says why (see tensor/backend.h).
#pragma once

#include <cstdint>
#include <string>

namespace loom {

enum class DeviceType : std::uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;  // which GPU for CUDA; always 0 for the CPU

  Device() = default;
  Device(DeviceType t, int i = 0) : type(t), index(i) {}
  // Parses "cpu", "cuda" (= cuda:0) or "cuda:N"; throws std::invalid_argument on anything else.
  explicit Device(const std::string& spec);

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;  // "cpu" or "cuda:N"

  friend bool operator==(const Device& a, const Device& b) {
    return a.type == b.type && a.index == b.index;
  }
  friend bool operator!=(const Device& a, const Device& b) { return !(a == b); }
};

inline const Device kCPU{DeviceType::CPU, 0};

}  // namespace loom
