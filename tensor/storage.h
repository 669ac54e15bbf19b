// tensor/storage.h: a reference-counted byte buffer on one Device.
//
// Storage owns memory allocated through its device's Backend and frees it through the same
// Backend when the last Tensor (or view) holding it goes away. It has no shape and no dtype:
// views of one buffer share one Storage and differ only in shape, strides and offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tensor/device.h"

namespace loom {

class Storage {
 public:
  // Allocates `bytes` on `device` (uninitialised). Zero bytes is allowed.
  Storage(std::size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  Device device_;
};

using StoragePtr = std::shared_ptr<Storage>;

// How many Storages this process has created so far (every new tensor buffer is one; views are
// not). Tests read it before and after a call to check that a path allocates nothing.
int64_t storage_count();

}  // namespace loom
