// tensor/cpu/gemm/kernels.cpp: the table of micro-kernels and the choice among them.
//
// The scalar reference runs 4 x 16 tiles when it is the whole GEMM's kernel (any shape gives
// the same bits; a small one pads little); as the twin of a vector kernel it is instantiated at
// that kernel's shape, so the tests can compare the two on the same panels.
#include "tensor/cpu/gemm/kernels.h"

#include "tensor/cpu/gemm/microkernel_reference.h"
#include "tensor/cpu/gemm/microkernels_x86.h"
#include "tensor/cpu/gemm/pack.h"

namespace loom::cpu::gemm {
namespace {

// A kernel with its scalar twin and its packers, all of the same register block MR x NR: pack.h's,
// or a vector packer of A that writes the same panels; and its variant reading A unpacked, if any.
template <int MR, int NR, typename TA, typename TB, typename TC>
MicroKernel<TA, TB, TC> with_twins(const char* name, MicroKernelFn<TA, TB, TC> run,
                                   PackFn<TA> packer_a = pack_a<TA, MR>,
                                   InPlaceAKernelFn<TA, TB, TC> a_in_place = nullptr) {
  return {name,           MR,        NR, run, reference_kernel<MR, NR, TA, TB, TC>, packer_a,
          pack_b<TB, NR>, a_in_place};
}

constexpr int kRefMr = 4, kRefNr = 16;
const KernelF32 kF32Reference = with_twins<kRefMr, kRefNr>(
    "reference fp32 4x16", reference_kernel<kRefMr, kRefNr, float, float, float>);
const KernelBf16 kBf16Reference = with_twins<kRefMr, kRefNr>(
    "reference bf16 4x16", reference_kernel<kRefMr, kRefNr, uint16_t, uint16_t, float>);
const KernelU8S8 kU8S8Reference = with_twins<kRefMr, kRefNr>(
    "reference u8s8 4x16", reference_kernel<kRefMr, kRefNr, uint8_t, int8_t, int32_t>);

#if LOOM_GEMM_X86
const KernelF32 kF32Avx2 = with_twins<kAvx2Mr, kAvx2Nr>("avx2 fp32 6x16", fp32_kernel_avx2);
const KernelF32 kF32Avx512 =
    with_twins<kAvx512Mr, kAvx512Nr>("avx512 fp32 10x32", fp32_kernel_avx512);
const KernelBf16 kBf16Avx512 =
    with_twins<kAvx512Mr, kAvx512Nr>("avx512_bf16 bf16 10x32", bf16_kernel_avx512,
                                     pack_a_bf16_avx512, bf16_kernel_avx512_a_in_place);
const KernelU8S8 kU8S8Avx512 =
    with_twins<kAvx512Mr, kAvx512Nr>("avx512_vnni u8s8 10x32", u8s8_kernel_avx512);
#endif

}  // namespace

const KernelF32& f32_kernel(KernelLevel level) {
#if LOOM_GEMM_X86
  if (level >= KernelLevel::Avx512 && cpu_features().avx512f) return kF32Avx512;
  if (level >= KernelLevel::Avx2 && cpu_features().avx2_fma) return kF32Avx2;
#endif
  (void)level;
  return kF32Reference;
}

const KernelBf16& bf16_kernel(KernelLevel level) {
#if LOOM_GEMM_X86
  if (level >= KernelLevel::Avx512 && cpu_features().avx512_bf16) return kBf16Avx512;
#endif
  (void)level;
  return kBf16Reference;
}

const KernelU8S8& u8s8_kernel(KernelLevel level) {
#if LOOM_GEMM_X86
  if (level >= KernelLevel::Avx512 && cpu_features().avx512_vnni) return kU8S8Avx512;
#endif
  (void)level;
  return kU8S8Reference;
}

}  // namespace loom::cpu::gemm
