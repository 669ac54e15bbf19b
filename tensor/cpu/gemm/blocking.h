// tensor/cpu/gemm/blocking.h: the cache blocking (kc, nc) and how finely work is cut for threads.
//
// Sized for a core with an L1 data cache of at least 32 KB and an L2 of at least 512 KB (every
// x86 core of the last decade; this machine's Zen 5 has 48 KB and 1 MB). The loops (gemm.cpp):
// for each block of nc columns and kc values of k, for each A micro-panel (mr rows), for each B
// micro-panel (nr columns) of the block.
// - kc: an A micro-panel (mr x kc) is reused across the whole row of B micro-panels, so it must
//   stay in L1 while they stream past: kc * sizeof(T) = 1 KB of k per row, 10 KB for mr = 10
//   (256 floats, 512 bfloat16, 1024 bytes: the same bytes, so the same cache footprint).
// - nc: the packed B block (kc x nc) is reread once per A micro-panel, so it must stay in L2:
//   1 KB x 512 columns = 512 KB.
// Every size here depends on the shape only, never on the thread count (tasks.h).
#pragma once

#include <cstdint>

namespace loom::cpu::gemm {

constexpr int64_t kBlockBytesOfK = 1024;
template <typename T>
constexpr int64_t kKc = kBlockBytesOfK / static_cast<int64_t>(sizeof(T));
constexpr int64_t kNc = 512;

// Units of work per block that threads share (enough to balance 2 to 4 threads), each at least
// kMinUnitWork multiply-adds (below that, handing out a unit costs more than it computes).
constexpr int64_t kTargetUnits = 8;
constexpr int64_t kMinUnitWork = int64_t{1} << 16;

}  // namespace loom::cpu::gemm
