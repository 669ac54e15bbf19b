// tensor/cpu/gemm/kernels.h: which micro-kernel each GEMM runs, from the kernel level and the
// CPU's features.
//
// fp32: avx512 (10 x 32) on an AVX-512 CPU, avx2 (6 x 16) on an AVX2 + FMA one, else the
// scalar reference. bf16 and u8 x s8 have a vector kernel only at the avx512 level, and only on
// a CPU with AVX512_BF16 (resp. AVX512_VNNI); otherwise they run the scalar reference. Every
// kernel of one element type gives the same bits (microkernel.h), so the level changes speed,
// never results.
// Leaves out: the level itself (tensor/cpu/cpu_features.h).
#pragma once

#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/gemm/microkernel.h"

namespace loom::cpu::gemm {

const KernelF32& f32_kernel(KernelLevel level);
const KernelBf16& bf16_kernel(KernelLevel level);
const KernelU8S8& u8s8_kernel(KernelLevel level);

}  // namespace loom::cpu::gemm
