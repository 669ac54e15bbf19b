// cuda/runtime/sync_debug.cpp: the implicit-host-sync counter and its debug mode (sync_debug.h).
// Plain C++ with no CUDA call, built in every configuration, so its tests run without a GPU.
#include "cuda/runtime/sync_debug.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tensor/error.h"

namespace loom::cuda {
namespace {

constexpr const char* kVariable = "LOOM_CUDA_SYNC_DEBUG";

std::atomic<int64_t> g_count{0};

// -1: not decided yet (read the environment at first use); else a SyncDebugMode.
std::atomic<int> g_mode{-1};

bool equals(const char* a, const char* b) {
  return std::strcmp(a, b) == 0;
}

}  // namespace

SyncDebugMode parse_sync_debug_mode(const char* value) {
  if (value == nullptr || *value == '\0' || equals(value, "off") || equals(value, "0"))
    return SyncDebugMode::Off;
  if (equals(value, "warn") || equals(value, "1")) return SyncDebugMode::Warn;
  if (equals(value, "error") || equals(value, "2")) return SyncDebugMode::Error;
  LOOM_FAIL(kVariable, "=", value, " is not a sync debug mode: use off (0), warn (1) or error (2)");
}

SyncDebugMode sync_debug_mode() {
  int mode = g_mode.load(std::memory_order_relaxed);
  if (mode < 0) {
    // Two threads may both parse the variable at first use; they compute the same value.
    mode = static_cast<int>(parse_sync_debug_mode(std::getenv(kVariable)));
    int unset = -1;
    g_mode.compare_exchange_strong(unset, mode, std::memory_order_relaxed);
    mode = g_mode.load(std::memory_order_relaxed);
  }
  return static_cast<SyncDebugMode>(mode);
}

void set_sync_debug_mode(SyncDebugMode mode) {
  g_mode.store(static_cast<int>(mode), std::memory_order_relaxed);
}

int64_t host_sync_count() {
  return g_count.load(std::memory_order_relaxed);
}

void note_host_sync(const char* op, const char* why) {
  const SyncDebugMode mode = sync_debug_mode();
  // Error mode refuses the sync, so it is not counted: the count stays what really happened.
  LOOM_CHECK(mode != SyncDebugMode::Error, "CUDA host sync refused (", kVariable, "=error): ", op,
             ": ", why,
             ". Unset the variable, or call cuda::set_sync_debug_mode(SyncDebugMode::Off), to "
             "allow it");
  const int64_t n = g_count.fetch_add(1, std::memory_order_relaxed) + 1;
  if (mode == SyncDebugMode::Warn)
    std::fprintf(stderr, "loom: CUDA host sync #%lld: %s: %s\n", static_cast<long long>(n), op,
                 why);
}

}  // namespace loom::cuda
