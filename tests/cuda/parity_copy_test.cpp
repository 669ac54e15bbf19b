// tests/cuda/parity_copy_test.cpp: CPU-vs-CUDA parity of the memory and layout methods —
// copies in every direction, fill, compact and strided_write through non-contiguous views,
// every cast pair — and of the Philox random fills. All exact (bytes), except normal fills
// (see RandomNormalMatchesTheCpu). Skips without a CUDA device.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tests/cuda/parity_util.h"

namespace {

using namespace loom;
using namespace loom::test;

TEST(CudaParityCopy, HostDeviceHostRoundTripIsExact) {
  LOOM_PARITY_BEGIN();
  for (DType dt : kAllDTypes) {
    SCOPED_TRACE(dtype_name(dt));
    for (int64_t n : {1, 7, 1000, 4099}) {
      const Tensor x = random_tensor({n}, dt, gen, -100, 100);
      EXPECT_TRUE(expect_close(x, x.to(kCuda)));  // to(kCPU) inside: device_to_host
    }
  }
}

TEST(CudaParityCopy, DeviceToDeviceCopyIsExact) {
  LOOM_PARITY_BEGIN();
  for (DType dt : kAllDTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor x = random_tensor({33, 17}, dt, gen, -100, 100);
    const Tensor d = x.to(kCuda);
    Tensor out = poisoned({33, 17}, dt, kCuda);
    cuda_be().copy_device_to_device(out.raw_data(), d.raw_data(),
                                    static_cast<std::size_t>(x.numel()) * dtype_size(dt), kCuda);
    EXPECT_TRUE(expect_close(x, out));
    EXPECT_TRUE(expect_close(x, d.clone()));
  }
}

TEST(CudaParityCopy, FillConvertsLikeTheCpu) {
  LOOM_PARITY_BEGIN();
  const double values[] = {0.0, 1.0, -2.5, 3.7, 65519.0, 1e-8, -0.0};
  for (DType dt : kAllDTypes) {
    for (double v : values) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " value " + std::to_string(v));
      for (int64_t n : {1, 5, 16, 1027}) {
        Tensor ref = poisoned({n}, dt, kCPU), got = poisoned({n}, dt, kCuda);
        cpu_be().fill(ref.raw_data(), dt, n, v);
        cuda_be().fill(got.raw_data(), dt, n, v);
        EXPECT_TRUE(expect_close(ref, got));
      }
      // Misaligned start (element 1 of a buffer): the scalar path of the fill kernel.
      Tensor ref = poisoned({9}, dt, kCPU), got = poisoned({9}, dt, kCuda);
      cpu_be().fill(ref.narrow(0, 1, 8).raw_data(), dt, 8, v);
      cuda_be().fill(got.narrow(0, 1, 8).raw_data(), dt, 8, v);
      EXPECT_TRUE(expect_close(ref, got));  // element 0 must still be poison on both
    }
  }
}

// Views of a [4, 5, 6] tensor (and a 0-d one) that are not contiguous.
std::vector<Tensor> views_of(const Tensor& t) {
  return {t.transpose(0, 2),
          t.permute({1, 2, 0}),
          t.narrow(1, 1, 3),
          t.slice(2, 1, 6, 2),
          t.select(1, 2),
          t.narrow(0, 1, 1).expand({3, 5, 6}),
          t.unsqueeze(1).expand({4, 2, 5, 6}).transpose(1, 3),
          t.select(0, 3).select(0, 4).select(0, 5)};  // 0-d, with an offset
}

TEST(CudaParityCopy, CompactOfNonContiguousViewsIsExact) {
  LOOM_PARITY_BEGIN();
  for (DType dt : kAllDTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor x = random_tensor({4, 5, 6}, dt, gen, -100, 100);
    const std::vector<Tensor> cpu_views = views_of(x), cuda_views = views_of(x.to(kCuda));
    for (std::size_t v = 0; v < cpu_views.size(); ++v) {
      SCOPED_TRACE("view " + std::to_string(v));
      const Tensor& cv = cpu_views[v];
      const Tensor& gv = cuda_views[v];
      Tensor ref = poisoned(cv.shape(), dt, kCPU), got = poisoned(gv.shape(), dt, kCuda);
      cpu_be().compact(cv.storage()->data(), strided_layout(cv), ref.raw_data(), dt);
      cuda_be().compact(gv.storage()->data(), strided_layout(gv), got.raw_data(), dt);
      EXPECT_TRUE(expect_close(ref, got));
      EXPECT_TRUE(expect_close(cv.contiguous(), gv.contiguous()));  // the frontend's path
    }
  }
}

TEST(CudaParityCopy, StridedWriteIntoViewsTouchesOnlyTheView) {
  LOOM_PARITY_BEGIN();
  for (DType dt : kAllDTypes) {
    SCOPED_TRACE(dtype_name(dt));
    // Views that do not repeat elements (no expand): a write must land exactly there.
    Tensor ref_base = poisoned({4, 5, 6}, dt, kCPU), got_base = poisoned({4, 5, 6}, dt, kCuda);
    const std::vector<Tensor> ref_views = {ref_base.transpose(0, 2), ref_base.narrow(1, 1, 3),
                                           ref_base.slice(2, 1, 6, 2), ref_base.select(1, 2)};
    const std::vector<Tensor> got_views = {got_base.transpose(0, 2), got_base.narrow(1, 1, 3),
                                           got_base.slice(2, 1, 6, 2), got_base.select(1, 2)};
    for (std::size_t v = 0; v < ref_views.size(); ++v) {
      SCOPED_TRACE("view " + std::to_string(v));
      const Tensor src = random_tensor(ref_views[v].shape(), dt, gen, -100, 100);
      const Tensor src_d = src.to(kCuda);
      cpu_be().strided_write(src.raw_data(), ref_base.storage()->data(),
                             strided_layout(ref_views[v]), dt);
      cuda_be().strided_write(src_d.raw_data(), got_base.storage()->data(),
                              strided_layout(got_views[v]), dt);
      // The whole base: written elements equal, the rest still poison on both.
      EXPECT_TRUE(expect_close(ref_base, got_base));
    }
    // The frontend's path: copy_ into a transposed view, with a broadcast source.
    Tensor a = zeros({6, 4}, TensorOptions(dt, kCPU)), b = zeros({6, 4}, TensorOptions(dt, kCuda));
    const Tensor row = random_tensor({6}, dt, gen, -100, 100);
    a.t().copy_(row);
    b.t().copy_(row.to(kCuda));
    EXPECT_TRUE(expect_close(a, b));
  }
}

TEST(CudaParityCopy, EveryCastPairIsExact) {
  LOOM_PARITY_BEGIN();
  for (DType from : kAllDTypes) {
    // Values that stress the conversions: fractions (truncation), halves' rounding, zeros.
    Tensor x = random_tensor({1031}, from, gen, -300, 300);
    if (from != DType::Bool) x.narrow(0, 0, 8).fill_(0);
    const Tensor xd = x.to(kCuda);
    for (DType to : kAllDTypes) {
      SCOPED_TRACE(std::string(dtype_name(from)) + " -> " + dtype_name(to));
      Tensor ref = poisoned({1031}, to, kCPU), got = poisoned({1031}, to, kCuda);
      cpu_be().cast(x.raw_data(), from, ref.raw_data(), to, 1031);
      cuda_be().cast(xd.raw_data(), from, got.raw_data(), to, 1031);
      EXPECT_TRUE(expect_close(ref, got));
    }
  }
}

TEST(CudaParityRandom, UniformMatchesTheCpuBitForBit) {
  LOOM_PARITY_BEGIN();
  const uint64_t seed = parity_seed;
  for (DType dt : kFloatDTypes) {
    SCOPED_TRACE(dtype_name(dt));
    for (uint64_t offset : {uint64_t{0}, uint64_t{12345}, (uint64_t{1} << 40) + 7}) {
      for (auto [low, high] : {std::pair{0.0, 1.0}, std::pair{-3.0, 5.5}}) {
        const int64_t n = 2049;
        Tensor ref = poisoned({n}, dt, kCPU), got = poisoned({n}, dt, kCuda);
        cpu_be().random_uniform(ref.raw_data(), dt, n, seed, offset, low, high);
        cuda_be().random_uniform(got.raw_data(), dt, n, seed, offset, low, high);
        EXPECT_TRUE(expect_close(ref, got))
            << "offset " << offset << " [" << low << ", " << high << ")";
      }
    }
    // Through the frontend: the same generator state gives the same tensor on both devices,
    // and the generator advances the same way.
    Generator g1(seed), g2(seed);
    const Tensor a1 = rand({3, 5}, g1, TensorOptions(dt, kCPU));
    const Tensor b1 = rand({3, 5}, g2, TensorOptions(dt, kCuda));
    const Tensor a2 = uniform({7}, -1, 1, g1, TensorOptions(dt, kCPU));
    const Tensor b2 = uniform({7}, -1, 1, g2, TensorOptions(dt, kCuda));
    EXPECT_TRUE(expect_close(a1, b1));
    EXPECT_TRUE(expect_close(a2, b2));
    EXPECT_EQ(g1.offset(), g2.offset());
  }
}

// Normal fills go through log/sqrt/cos in double, where CUDA and glibc may differ by an ulp:
// float64 within 1e-14 relative, float32 within one float ulp (2^-23 relative), float16 and
// bfloat16 within one of their ulps. In practice float32/16 are almost always bit-equal.
TEST(CudaParityRandom, NormalMatchesTheCpu) {
  LOOM_PARITY_BEGIN();
  const uint64_t seed = parity_seed;
  const Tol tols[] = {
      {1e-14, 1e-300}, {1.0 / 8388608, 1e-38}, {1.0 / 1024, 1.0 / 16777216}, {1.0 / 128, 1e-38}};
  for (int d = 0; d < 4; ++d) {
    const DType dt = kFloatDTypes[d];
    SCOPED_TRACE(dtype_name(dt));
    for (uint64_t offset : {uint64_t{0}, uint64_t{999}}) {
      const int64_t n = 4097;
      Tensor ref = poisoned({n}, dt, kCPU), got = poisoned({n}, dt, kCuda);
      cpu_be().random_normal(ref.raw_data(), dt, n, seed, offset, 0.5, 2.0);
      cuda_be().random_normal(got.raw_data(), dt, n, seed, offset, 0.5, 2.0);
      EXPECT_TRUE(expect_close(ref, got, tols[d]));
    }
  }
}

TEST(CudaParityRandom, IntegerDTypesAreRefusedLikeOnTheCpu) {
  LOOM_PARITY_BEGIN();
  Tensor out = poisoned({4}, DType::Int32, kCuda);
  EXPECT_NE(error_of([&] {
              cuda_be().random_uniform(out.raw_data(), DType::Int32, 4, 1, 0, 0, 1);
            }).find("floating"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              cuda_be().random_normal(out.raw_data(), DType::Int64, 4, 1, 0, 0, 1);
            }).find("floating"),
            std::string::npos);
}

}  // namespace
