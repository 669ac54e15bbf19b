// tests/cuda/parity_index_test.cpp: CPU-vs-CUDA parity of index_select and index_add, with
// heavily repeated indices, outer and inner extents, every dtype; index_add in both modes
// (cuda::set_deterministic): the deterministic path must equal the CPU bit for bit (it adds in
// the CPU's order) and repeat itself exactly; the atomic path within the GEMM-style tolerance
// (floats) or exactly (integers). Out-of-range indices throw the CPU's message.
// Skips without a CUDA device.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cuda/kernels/backend.h"
#include "tests/cuda/parity_util.h"

namespace {

using namespace loom;
using namespace loom::test;

struct Sizes {
  int64_t outer, rows, inner, K;
};
// Embedding-like (outer 1), a middle dim with outer and inner, K >> rows (many repeats), K = 1.
const Sizes kSizes[] = {
    {1, 50, 16, 200}, {3, 7, 5, 500}, {2, 9, 1, 40}, {1, 1000, 3, 1}, {4, 3, 33, 12}};

// Indices in [0, rows), drawn fresh; with K >> rows most rows repeat many times.
Tensor random_index(int64_t K, int64_t rows, Generator& gen) {
  return random_tensor({K}, DType::Float64, gen, 0, static_cast<double>(rows)).to(DType::Int64);
}

// Restores the deterministic default even when an assertion fails.
struct DeterministicScope {
  explicit DeterministicScope(bool on) { cuda::set_deterministic(on); }
  ~DeterministicScope() { cuda::set_deterministic(true); }
};

TEST(CudaParityIndex, IndexSelectEveryDType) {
  LOOM_PARITY_BEGIN();
  for (DType dt : kAllDTypes) {
    for (const Sizes& s : kSizes) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " outer " + std::to_string(s.outer) + " rows " +
                   std::to_string(s.rows) + " inner " + std::to_string(s.inner) + " K " +
                   std::to_string(s.K));
      const Tensor src = random_tensor({s.outer * s.rows * s.inner}, dt, gen, -100, 100);
      const Tensor idx = random_index(s.K, s.rows, gen);
      const Tensor src_d = src.to(kCuda), idx_d = idx.to(kCuda);
      Tensor ref = poisoned({s.outer * s.K * s.inner}, dt, kCPU);
      Tensor got = poisoned({s.outer * s.K * s.inner}, dt, kCuda);
      cpu_be().index_select(src.raw_data(), idx.data_ptr<int64_t>(), ref.raw_data(), dt, s.outer,
                            s.rows, s.inner, s.K);
      cuda_be().index_select(src_d.raw_data(), static_cast<const int64_t*>(idx_d.raw_data()),
                             got.raw_data(), dt, s.outer, s.rows, s.inner, s.K);
      EXPECT_TRUE(expect_close(ref, got));
    }
  }
  // Through the frontend, along each dim, with int32 indices (converted by the frontend).
  const Tensor x = random_tensor({5, 6, 7}, DType::Float32, gen);
  const Tensor i32 = random_index(9, 5, gen).to(DType::Int32);
  for (int64_t dim : {0, 1, 2}) {
    EXPECT_TRUE(
        expect_close(index_select(x, dim, i32), index_select(x.to(kCuda), dim, i32.to(kCuda))));
  }
}

// Runs index_add on both devices; returns the CUDA result (and checks it against the CPU).
Tensor check_index_add(const Sizes& s, DType dt, bool deterministic, const Tensor& dst,
                       const Tensor& src, const Tensor& idx) {
  DeterministicScope scope(deterministic);
  Tensor ref = dst.clone(), got = dst.to(kCuda);
  const Tensor src_d = src.to(kCuda), idx_d = idx.to(kCuda);
  cpu_be().index_add(ref.raw_data(), idx.data_ptr<int64_t>(), src.raw_data(), dt, s.outer, s.rows,
                     s.inner, s.K);
  cuda_be().index_add(got.raw_data(), static_cast<const int64_t*>(idx_d.raw_data()),
                      src_d.raw_data(), dt, s.outer, s.rows, s.inner, s.K);
  if (deterministic || !is_floating(dt)) {
    EXPECT_TRUE(expect_close(ref, got));  // bit for bit
  } else {
    // Atomic order varies: compare relative to |dst| + sum of the |src| terms of each element.
    Tensor scale = abs(dst.to(DType::Float64)).clone();
    cpu_be().index_add(scale.raw_data(), idx.data_ptr<int64_t>(),
                       abs(src.to(DType::Float64)).raw_data(), DType::Float64, s.outer, s.rows,
                       s.inner, s.K);
    if (dt == DType::Float16 || dt == DType::BFloat16) {
      // 16-bit floats round after every addition (both backends), so an element that receives c
      // additions may differ by up to c ulps of its dtype between two orders: scale by (c + 1).
      Tensor count = zeros(dst.shape(), DType::Float64);
      const Tensor ones_src = ones(src.shape(), DType::Float64);
      cpu_be().index_add(count.raw_data(), idx.data_ptr<int64_t>(), ones_src.raw_data(),
                         DType::Float64, s.outer, s.rows, s.inner, s.K);
      scale = scale * (count + 1.0);
    }
    EXPECT_TRUE(expect_close(ref, got, sum_tol_for(dt), scale));
  }
  return got;
}

TEST(CudaParityIndex, IndexAddBothModesEveryDType) {
  LOOM_PARITY_BEGIN();
  for (DType dt : kAllDTypes) {
    if (dt == DType::Bool) continue;
    for (const Sizes& s : kSizes) {
      const Tensor dst = random_tensor({s.outer * s.rows * s.inner}, dt, gen, -100, 100);
      const Tensor src = random_tensor({s.outer * s.K * s.inner}, dt, gen, -100, 100);
      const Tensor idx = random_index(s.K, s.rows, gen);
      for (bool det : {true, false}) {
        SCOPED_TRACE(std::string(dtype_name(dt)) + (det ? " deterministic" : " atomic") +
                     " outer " + std::to_string(s.outer) + " rows " + std::to_string(s.rows) +
                     " inner " + std::to_string(s.inner) + " K " + std::to_string(s.K));
        const Tensor first = check_index_add(s, dt, det, dst, src, idx);
        if (det) {
          // Deterministic means the same bits on every run.
          const Tensor again = check_index_add(s, dt, det, dst, src, idx);
          EXPECT_TRUE(expect_close(first, again));
        }
      }
    }
  }
}

TEST(CudaParityIndex, FrontendIndexAddAlongEachDim) {
  LOOM_PARITY_BEGIN();
  for (bool det : {true, false}) {
    DeterministicScope scope(det);
    const Tensor x = random_tensor({4, 5, 6}, DType::Float32, gen);
    for (int64_t dim : {0, 1, 2}) {
      SCOPED_TRACE(std::string(det ? "deterministic" : "atomic") + " dim " + std::to_string(dim));
      Shape src_shape = x.shape();
      src_shape[dim] = 11;
      const Tensor src = random_tensor(src_shape, DType::Float32, gen);
      const Tensor idx = random_index(11, x.size(dim), gen);
      const Tensor ref = index_add(x, dim, idx, src);
      const Tensor got = index_add(x.to(kCuda), dim, idx.to(kCuda), src.to(kCuda));
      const Tensor scale = index_add(abs(x), dim, idx, abs(src));
      if (det) {
        EXPECT_TRUE(expect_close(ref, got));
      } else {
        EXPECT_TRUE(expect_close(ref, got, sum_tol_for(DType::Float32), scale));
      }
    }
  }
}

TEST(CudaParityIndex, OutOfRangeIndicesThrowTheCpuMessage) {
  LOOM_PARITY_BEGIN();
  const Tensor x = random_tensor({6, 4}, DType::Float32, gen);
  for (int64_t bad : {int64_t{6}, int64_t{-1}, int64_t{1} << 40}) {
    const Tensor idx = from_vector<int64_t>({0, 5, bad, 2, bad}, {5});
    const std::string cpu_sel = error_of([&] { index_select(x, 0, idx); });
    const std::string cuda_sel = error_of([&] { index_select(x.to(kCuda), 0, idx.to(kCuda)); });
    EXPECT_EQ(cpu_sel, cuda_sel);
    EXPECT_NE(cuda_sel.find("index[2] = " + std::to_string(bad)), std::string::npos) << cuda_sel;
    const Tensor src = random_tensor({5, 4}, DType::Float32, gen);
    for (bool det : {true, false}) {
      DeterministicScope scope(det);
      const std::string cpu_add = error_of([&] { index_add(x, 0, idx, src); });
      const std::string cuda_add =
          error_of([&] { index_add(x.to(kCuda), 0, idx.to(kCuda), src.to(kCuda)); });
      EXPECT_EQ(cpu_add, cuda_add);
    }
  }
}

}  // namespace
