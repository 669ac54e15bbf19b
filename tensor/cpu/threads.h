// tensor/cpu/threads.h: how many threads the CPU backend's kernels use (OpenMP).
//
// GEMMs split their rows over threads (tensor/cpu/matmul.cpp) and the LSTM recurrence its batch
// rows (tensor/cpu/lstm.cpp); elementwise kernels and reductions are single-threaded.
#pragma once

namespace loom {

// n >= 1, for this process. Default: OMP_NUM_THREADS, else the cores.
void set_num_threads(int n);
int get_num_threads();

}  // namespace loom
