// tensor/cpu/cpu_features.h: what this CPU can run (AVX2+FMA, AVX-512, BF16, VNNI), and which
// kernel level the CPU kernels use.
//
// Read at run time from CPUID, with XGETBV for the operating system's side: a CPU may have
// AVX-512 while the OS does not save the 512-bit registers on a context switch, and then the
// instructions must not be used. Nothing here depends on the compiler's -march flags, so a
// portable build (-DLOOM_NATIVE=OFF) still picks the fastest kernels this machine runs.
// The level can be lowered, never raised, by the environment variable
//   LOOM_CPU_KERNELS=reference|avx2|avx512
// (tests compare the levels; students step through the scalar reference kernels).
// Leaves out: non-x86 CPUs (every feature reads false there) and AVX-VNNI (the 256-bit VNNI).
#pragma once

namespace loom::cpu {

struct CpuFeatures {
  bool avx2_fma = false;     // AVX2 and FMA3, and the OS saves the 256-bit registers
  bool avx512f = false;      // AVX-512 Foundation, and the OS saves the 512-bit registers
  bool avx512_bf16 = false;  // VDPBF16PS: bfloat16 pair dot products into float32 (+ avx512f)
  bool avx512_vnni = false;  // VPDPBUSD: u8 x s8 quad dot products into int32 (+ avx512f)
};

// This machine's features, read once.
const CpuFeatures& cpu_features();

// The kernel families, lowest first: a level may use every instruction of the levels below it.
enum class KernelLevel { Reference = 0, Avx2 = 1, Avx512 = 2 };
const char* kernel_level_name(KernelLevel level);

// The highest level `features` supports.
KernelLevel supported_level(const CpuFeatures& features);
// The level for an LOOM_CPU_KERNELS value (nullptr or "": no override): the lower of the
// requested and the supported level. Throws loom::Error naming the variable for any other value.
KernelLevel level_from_env(const char* value, const CpuFeatures& features);

// The level the CPU kernels use now: level_from_env(getenv("LOOM_CPU_KERNELS"), cpu_features())
// at the first call, or what set_kernel_level chose since.
KernelLevel kernel_level();
// Uses min(level, supported_level(cpu_features())) from now on, in every thread (tests and
// benchmarks switch levels with it).
void set_kernel_level(KernelLevel level);

}  // namespace loom::cpu
