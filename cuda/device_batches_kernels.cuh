// cuda/device_batches_kernels.cuh: ResidentDataset's batch gather kernel (cuda/device_batches.h;
// the launcher is ResidentDataset::gather_into in cuda/device_batches.cu). Internal to cuda/ and
// tests/cuda/.
//
// Why a header of its own: the kernel uses nothing of CUDA but the grid-stride loop, so
// tests/cuda/device_batches_kernels_emulation_test.cpp runs this very body on the CPU under
// emulation (tests/cuda/cuda_emulation.h). Keep it that way: no other CUDA API in this file.
// Under nvcc grid_stride comes from cuda/kernels/launch.cuh; the emulation test defines a host one
// (tests/cuda/kernel_util_host.h).
//
// Leaves out: the launcher, the queue (no kernel of its own).
#pragma once

#include <cstdint>

#include "cuda/kernels/launch.cuh"

namespace loom::cuda::resident {

// out_tokens [rows, T] = tokens[order[r], :], out_labels [rows] = labels[order[r]]. One thread
// per output token; the thread of column 0 also moves the row's label. `order` was checked on
// the host when it was uploaded, so no bounds check here.
// static: internal linkage, as in the anonymous namespace it came from, so the emulation test's
// host copy of this body never meets nvcc's host stub of the same name at link time.
static __global__ void gather_rows_kernel(const int32_t* __restrict__ tokens,
                                          const float* __restrict__ labels,
                                          const int64_t* __restrict__ order, int64_t rows,
                                          int64_t T, int32_t* __restrict__ out_tokens,
                                          float* __restrict__ out_labels) {
  for (int64_t e : grid_stride(rows * T)) {
    const int64_t r = e / T, c = e % T;
    const int64_t src = order[r];
    out_tokens[e] = tokens[src * T + c];
    if (c == 0) out_labels[r] = labels[src];
  }
}

}  // namespace loom::cuda::resident
