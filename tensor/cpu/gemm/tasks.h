// tensor/cpu/gemm/tasks.h: the blocks of a product and the units of work threads take.
//
// A product is cut into blocks of nc columns and kc values of k, one after the other; inside a
// block, the B panels are packed once (shared), and the work is cut into units: one A micro-panel
// (mr rows) times a run of B micro-panels. The determinism rule: every cut here is a function of
// the shape and the register block only, never of the thread count, and each k block is summed in
// the same order whoever computes it; with the micro-kernel contract (microkernel.h) every element
// of C is then the same bits on 1, 2 or 64 threads.
// Leaves out: running the units (gemm.cpp).
#pragma once

#include <cstdint>

namespace loom::cpu::gemm {

// The depth of every k block but possibly the last: at most kc_max, a multiple of `group`
// (whole k groups), the blocks as even as possible (k = 400, kc_max = 256: 200 + 200).
int64_t k_block_depth(int64_t k, int64_t kc_max, int group);

// Runs of B micro-panels per block: `col_panels` panels cut into this many runs, so that
// row_panels x runs gives threads at least kTargetUnits units when the product is big enough
// (blocking.h); 1 when the A micro-panels alone are enough.
int64_t column_runs(int64_t row_panels, int64_t col_panels, int64_t work);

// The first panel of run r of `runs` over `panels` panels (run_begin(runs, runs, panels) ==
// panels); runs differ by at most one panel.
inline int64_t run_begin(int64_t r, int64_t runs, int64_t panels) {
  return r * panels / runs;
}

}  // namespace loom::cpu::gemm
