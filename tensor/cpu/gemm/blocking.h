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

// Multiply-adds per thread below which a second thread does not pay: waking a waiting thread and
// the barriers between blocks cost tens of microseconds on a shared or virtual machine, about what
// 4 M multiply-adds take on one core. Measured here (docs/results/gemm-cpu.md): at the LSTM's
// 100 x 400 x 100 (4 M) fp32 ran at 144 GOP/s on one thread and 74 on two.
constexpr int64_t kMinThreadWork = int64_t{1} << 22;

}  // namespace loom::cpu::gemm
