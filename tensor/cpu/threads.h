// tensor/cpu/threads.h: how many threads the CPU backend's matmul (Eigen GEMM, OpenMP) uses.
//
// Elementwise kernels and reductions are single-threaded; only GEMM is parallel.
#pragma once

namespace loom {

// n >= 1. Affects Eigen's GEMM in this process.
void set_num_threads(int n);
int get_num_threads();

}  // namespace loom
