// tensor/cpu/backend.cpp: host memory for the CPU backend, and the thread-count setting.
#include "tensor/cpu/backend.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "tensor/cpu/threads.h"
#include "tensor/error.h"

namespace loom {
namespace cpu {

CpuBackend& cpu_backend() {
  // Never destroyed on purpose: tensors in other static objects may free their storage
  // during static destruction, after a function-local static backend would be gone.
  static CpuBackend* backend = [] {
    Eigen::setNbThreads(1);  // loom splits work over threads itself (matmul.cpp, lstm.cpp)
    return new CpuBackend();
  }();
  return *backend;
}

// Why a cache: every op allocates its output. For outputs of a few hundred KB, glibc
// returns freed memory to the OS and the next allocation page-faults it back in, which cost
// ~45% on a 256^3 matmul (docs/results/core-bench-cpu.md). Freed blocks of at least
// kMinCached bytes are kept per size class and reused, up to kCacheLimit in total. Size classes
// (four per power of two, so a block is at most 25% larger than asked) let a request reuse a
// block freed by a slightly different one: batch-1 inference sees a new sequence length, so a new
// exact size, with every query, and an exact-size cache missed every time (page faults were a
// quarter of int8 Seq2CNN's latency). Under AddressSanitizer the cache is off, so
// use-after-free is still caught.
namespace {
constexpr std::size_t kMinCached = 16 * 1024;
constexpr std::size_t kCacheLimit = std::size_t(256) << 20;
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUseCache = false;
#else
constexpr bool kUseCache = true;
#endif
// The bytes actually allocated for a request: a multiple of 64, and from kMinCached on the next
// of four steps per power of two (2^p, 1.25 2^p, 1.5 2^p, 1.75 2^p).
std::size_t round_up(std::size_t bytes) {
  const std::size_t rounded = ((bytes + 63) / 64) * 64;
  if (!kUseCache || rounded < kMinCached) return rounded;
  std::size_t power = kMinCached;
  while (power * 2 <= rounded)
    power *= 2;
  const std::size_t step = power / 4;
  return ((rounded + step - 1) / step) * step;
}
}  // namespace

void* CpuBackend::allocate(std::size_t bytes, Device) {
  // 64-byte alignment suits AVX-512 loads; aligned_alloc needs a multiple of the alignment.
  const std::size_t rounded = round_up(bytes);
  if (rounded == 0) return nullptr;
  if (kUseCache && rounded >= kMinCached) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(rounded);
    if (it != cache_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached_bytes_ -= rounded;
      return p;
    }
  }
  void* p = std::aligned_alloc(64, rounded);
  LOOM_CHECK(p != nullptr, "cpu allocate: out of memory allocating ", bytes, " bytes");
  return p;
}

void CpuBackend::deallocate(void* ptr, std::size_t bytes, Device) {
  if (ptr == nullptr) return;
  const std::size_t rounded = round_up(bytes);
  if (kUseCache && rounded >= kMinCached) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cached_bytes_ + rounded <= kCacheLimit) {
      cache_[rounded].push_back(ptr);
      cached_bytes_ += rounded;
      return;
    }
  }
  std::free(ptr);
}

void CpuBackend::empty_cache() {
  std::lock_guard<std::mutex> lock(cache_mutex_);
  for (auto& entry : cache_) {
    for (void* p : entry.second)
      std::free(p);
  }
  cache_.clear();
  cached_bytes_ = 0;
}

void CpuBackend::copy_host_to_device(void* dst, const void* src, std::size_t bytes, Device) {
  if (bytes) std::memcpy(dst, src, bytes);
}
void CpuBackend::copy_device_to_host(void* dst, const void* src, std::size_t bytes, Device) {
  if (bytes) std::memcpy(dst, src, bytes);
}
void CpuBackend::copy_device_to_device(void* dst, const void* src, std::size_t bytes, Device) {
  if (bytes) std::memmove(dst, src, bytes);
}

}  // namespace cpu

namespace {
// The thread count of loom's CPU kernels (OMP_NUM_THREADS, or the cores, until set).
std::atomic<int> g_num_threads{0};
}  // namespace

void set_num_threads(int n) {
  LOOM_CHECK(n >= 1, "set_num_threads: expected n >= 1, got ", n);
  g_num_threads = n;
}

int get_num_threads() {
  const int n = g_num_threads.load();
  return n > 0 ? n : omp_get_max_threads();
}

namespace cpu {

int row_slices(int64_t rows, int64_t work) {
  if (omp_get_level() > 0) return 1;
  const int64_t by_work = std::max<int64_t>(1, work >> 20);
  return static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>({get_num_threads(), rows, by_work})));
}

bool one_slice_runs_inline() {
  return omp_get_level() > 0 || get_num_threads() == 1;
}

int64_t slice_begin(int64_t rows, int s, int slices, int64_t align) {
  if (s >= slices) return rows;
  // The multiple of align nearest to an equal split (rounding down gave 10 + 27 rows of 37 for
  // align 10), never past the end.
  const int64_t even = rows * s / slices;
  return std::min(rows, (even + align / 2) / align * align);
}

}  // namespace cpu

}  // namespace loom
