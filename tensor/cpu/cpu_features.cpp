// tensor/cpu/cpu_features.cpp: CPUID and XGETBV decoded into CpuFeatures; the kernel level.
//
// The bits (Intel SDM vol. 2, CPUID; AMD's manual agrees): leaf 1 ECX: FMA (12), OSXSAVE (27),
// AVX (28); leaf 7 subleaf 0 EBX: AVX2 (5), AVX512F (16); ECX: AVX512_VNNI (11); leaf 7
// subleaf 1 EAX: AVX512_BF16 (5). XCR0 (read by XGETBV, allowed once OSXSAVE is set) says which
// register states the OS saves: bits 1-2 SSE/AVX (0x6) and bits 5-7 the AVX-512 opmask and
// upper registers (0xE0).
#include "tensor/cpu/cpu_features.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tensor/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define LOOM_X86 1
#endif

namespace loom::cpu {
namespace {

bool bit(uint32_t word, int index) {
  return ((word >> index) & 1u) != 0;
}

#ifdef LOOM_X86
// XGETBV(0) as inline assembly: the _xgetbv intrinsic would need -mxsave on the whole file.
uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool fma = bit(ecx, 12), osxsave = bit(ecx, 27), avx = bit(ecx, 28);
  if (!osxsave || !avx) return f;  // no XGETBV, or no AVX at all
  const uint64_t xcr0 = read_xcr0();
  const bool os_avx = (xcr0 & 0x6) == 0x6, os_avx512 = (xcr0 & 0xE6) == 0xE6;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
  const bool avx2 = bit(ebx, 5), avx512f = bit(ebx, 16), vnni = bit(ecx, 11);
  const uint32_t max_subleaf = eax;
  bool bf16 = false;
  if (max_subleaf >= 1 && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) bf16 = bit(eax, 5);
  f.avx2_fma = avx2 && fma && os_avx;
  f.avx512f = f.avx2_fma && avx512f && os_avx512;
  f.avx512_bf16 = f.avx512f && bf16;
  f.avx512_vnni = f.avx512f && vnni;
  return f;
}
#else
CpuFeatures detect() {
  return CpuFeatures{};
}
#endif

// -1 until the first kernel_level() call.
std::atomic<int> g_level{-1};

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

const char* kernel_level_name(KernelLevel level) {
  static const char* const names[] = {"reference", "avx2", "avx512"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<int>(KernelLevel::Avx512) + 1,
                "one name per KernelLevel");
  return names[static_cast<int>(level)];
}

KernelLevel supported_level(const CpuFeatures& features) {
  if (features.avx512f) return KernelLevel::Avx512;
  if (features.avx2_fma) return KernelLevel::Avx2;
  return KernelLevel::Reference;
}

KernelLevel level_from_env(const char* value, const CpuFeatures& features) {
  const KernelLevel supported = supported_level(features);
  if (value == nullptr || *value == '\0') return supported;
  const std::string v = value;
  for (int i = 0; i <= static_cast<int>(KernelLevel::Avx512); ++i) {
    const auto level = static_cast<KernelLevel>(i);
    if (v == kernel_level_name(level)) return level < supported ? level : supported;
  }
  LOOM_CHECK(false, "LOOM_CPU_KERNELS: expected reference, avx2 or avx512, got '", v, "'");
  return supported;
}

KernelLevel kernel_level() {
  int level = g_level.load();
  if (level < 0) {
    level = static_cast<int>(level_from_env(std::getenv("LOOM_CPU_KERNELS"), cpu_features()));
    g_level = level;
  }
  return static_cast<KernelLevel>(level);
}

void set_kernel_level(KernelLevel level) {
  const KernelLevel supported = supported_level(cpu_features());
  g_level = static_cast<int>(level < supported ? level : supported);
}

}  // namespace loom::cpu
