// tests/cuda/emulation_buffers.h: host buffers for the kernel emulation tests of the tensor
// kernels (copy/cast, index, reduce, LSTM cell, scale_c, elementwise): placed at a 64-byte
// boundary or a chosen number of elements past it (to send a kernel down its unaligned path),
// poisoned with 0xFF bytes (NaN for floats, -1 for integers) before each run, with a poisoned
// guard after the last element; plus the launchers' grid arithmetic and a bytewise comparison.
//
//   PoisonedBuffer<float> y(n, /*shift=*/1);   // y.data() is 4 bytes past a 64-byte boundary
//   ...run a kernel writing y.data()[0..n)...
//   expect_bytes_equal(y.data(), want.data(), n, "y");   // every element written, as the CPU's
//   EXPECT_TRUE(y.guard_intact());                       // nothing written past n
//
// Leaves out: anything about the kernels themselves (the *_kernels_emulation_test.cpp files).
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda/kernels/launch.cuh"

namespace loom::cuda::emu_test {

constexpr int64_t kGuard = 16;  // poisoned elements after the last one

template <typename T>
class PoisonedBuffer {
 public:
  // n elements starting `shift` elements past a 64-byte boundary, all bytes 0xFF.
  explicit PoisonedBuffer(int64_t n, int shift = 0) : n_(n) {
    storage_.resize(static_cast<std::size_t>(n + kGuard) * sizeof(T) + 64 +
                    static_cast<std::size_t>(shift) * sizeof(T));
    unsigned char* base = storage_.data();
    while (reinterpret_cast<std::uintptr_t>(base) % 64 != 0)
      ++base;
    data_ = reinterpret_cast<T*>(base + static_cast<std::size_t>(shift) * sizeof(T));
    poison();
  }
  PoisonedBuffer(const PoisonedBuffer&) = delete;
  PoisonedBuffer& operator=(const PoisonedBuffer&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  int64_t size() const { return n_; }
  T& operator[](int64_t i) { return data_[i]; }

  void poison() { std::memset(static_cast<void*>(data_), 0xFF, bytes(n_ + kGuard)); }
  void assign(const std::vector<T>& values) {  // values.size() == size()
    for (int64_t i = 0; i < n_; ++i)
      data_[i] = values[static_cast<std::size_t>(i)];
  }
  // Whether the kGuard elements after the last one are still all 0xFF bytes.
  bool guard_intact() const {
    const auto* g = reinterpret_cast<const unsigned char*>(data_ + n_);
    for (std::size_t b = 0; b < bytes(kGuard); ++b)
      if (g[b] != 0xFF) return false;
    return true;
  }

 private:
  static std::size_t bytes(int64_t count) { return static_cast<std::size_t>(count) * sizeof(T); }
  int64_t n_;
  std::vector<unsigned char> storage_;
  T* data_ = nullptr;
};

// The launchers' grid for `work` items of 256-thread blocks (launch_for's block count).
inline unsigned launcher_grid(int64_t work) {
  return static_cast<unsigned>(blocks_for(work, kDefaultBlockSize, "emulation test"));
}

// kernel_util.cuh's is_aligned (the launchers' test for the 16-byte path), for the host.
inline bool host_aligned(const void* p, std::size_t bytes) {
  return reinterpret_cast<std::uintptr_t>(p) % bytes == 0;
}

// Expects got[0..n) to have the bytes of want[0..n); reports the first 3 elements that do not
// (so an unwritten, still poisoned, element shows as a mismatch).
template <typename T>
void expect_bytes_equal(const T* got, const T* want, int64_t n, const std::string& what) {
  int bad = 0;
  for (int64_t i = 0; i < n && bad < 3; ++i) {
    if (std::memcmp(got + i, want + i, sizeof(T)) != 0) {
      ++bad;
      if constexpr (sizeof(T) == 1) {
        ADD_FAILURE() << what << " element " << i << ": emulated kernel byte "
                      << int{*reinterpret_cast<const unsigned char*>(got + i)} << ", CPU "
                      << int{*reinterpret_cast<const unsigned char*>(want + i)};
      } else if constexpr (!std::is_arithmetic_v<T>) {  // __half: its bits
        uint16_t g = 0, w = 0;
        static_assert(sizeof(T) == sizeof g, "a 2-byte non-arithmetic element: __half");
        std::memcpy(&g, got + i, sizeof g);
        std::memcpy(&w, want + i, sizeof w);
        ADD_FAILURE() << what << " element " << i << ": emulated kernel bits 0x" << std::hex << g
                      << ", CPU 0x" << w << std::dec;
      } else {
        ADD_FAILURE() << what << " element " << i << ": emulated kernel " << got[i] << ", CPU "
                      << want[i];
      }
    }
  }
}

}  // namespace loom::cuda::emu_test
