// cuda/runtime/sync_debug.h: counting, and optionally flagging, the times the host waits for the
// GPU without having been asked to. Public: no CUDA header; plain C++ (sync_debug.cpp), in every
// build. Like PyTorch's torch.cuda.set_sync_debug_mode:
//
//   LOOM_CUDA_SYNC_DEBUG=warn imdb train --device cuda ...   # print each implicit sync and why
//   LOOM_CUDA_SYNC_DEBUG=error ...                          # throw at the first one instead
//   cuda::host_sync_count()                                 # how many so far (benchmarks)
//
// Implicit: a tensor read on the host (item(), to(cpu)), the bounds check of index_select and
// index_add, the integer-division check of div. Each drains the GPU's queue while the host
// launches what follows (docs/labs/08-cuda.md, 7a). Not counted: syncs skipped during graph
// capture, and explicit ones (Stream::synchronize, event waits, the allocator's waits).
//
// Leaves out: per-stream or per-thread counts, a stack trace in warn mode.
#pragma once

#include <cstdint>

namespace loom::cuda {

enum class SyncDebugMode {
  Off,    // count only
  Warn,   // count and print one line per implicit sync to stderr
  Error,  // throw loom::Error instead of synchronizing
};

// The mode named by a value of LOOM_CUDA_SYNC_DEBUG: null or "" or "off"/"0" -> Off,
// "warn"/"1" -> Warn, "error"/"2" -> Error. Anything else throws loom::Error naming the
// variable, the value and the choices.
SyncDebugMode parse_sync_debug_mode(const char* value);

// The current mode: set_sync_debug_mode's last value, else LOOM_CUDA_SYNC_DEBUG read once at
// first use (a bad value throws there, naming the variable).
SyncDebugMode sync_debug_mode();
void set_sync_debug_mode(SyncDebugMode mode);

// Implicit host synchronizations so far in this process (every thread, every device).
int64_t host_sync_count();

// Called by cuda/ just before an implicit synchronization: `op` is the op or method, `why` what
// it reads back, e.g. ("index_select", "reading its bounds check back"). Counts it; in Warn mode
// prints
//   loom: CUDA host sync #12: index_select: reading its bounds check back
// and in Error mode throws loom::Error with that text and how to allow it again.
void note_host_sync(const char* op, const char* why);

}  // namespace loom::cuda
