// tests/tensor/backend_dispatch_test.cpp: the backend interface seen from outside.
//
// Registers a "recording" backend for DeviceType::CUDA that runs every kernel on the CPU and
// logs which kernels were called. This checks, without a GPU, that (1) tensors on cuda:0
// dispatch to the registered backend and transfers use its copy functions, and (2) the
// frontend keeps its promises: transposed matmul operands reach the backend as transpose
// flags, not as compacted copies. (This program owns the registry: no real CUDA here.)
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tensor/cpu/backend.h"
#include "tensor/ops.h"

using namespace loom;

namespace {

class RecordingBackend final : public Backend {
 public:
  std::vector<std::string> calls;
  MatmulArgs last_matmul;
  Backend& cpu = cpu::cpu_backend();

  const char* name() const override { return "recording"; }
  void* allocate(std::size_t bytes, Device d) override { return cpu.allocate(bytes, d); }
  void deallocate(void* p, std::size_t bytes, Device d) override { cpu.deallocate(p, bytes, d); }
  void copy_host_to_device(void* dst, const void* src, std::size_t n, Device d) override {
    calls.push_back("h2d");
    cpu.copy_host_to_device(dst, src, n, d);
  }
  void copy_device_to_host(void* dst, const void* src, std::size_t n, Device d) override {
    calls.push_back("d2h");
    cpu.copy_device_to_host(dst, src, n, d);
  }
  void copy_device_to_device(void* dst, const void* src, std::size_t n, Device d) override {
    calls.push_back("d2d");
    cpu.copy_device_to_device(dst, src, n, d);
  }
  void fill(void* dst, DType t, int64_t n, double v) override {
    calls.push_back("fill");
    cpu.fill(dst, t, n, v);
  }
  void compact(const void* src, const StridedLayout& l, void* dst, DType t) override {
    calls.push_back("compact");
    cpu.compact(src, l, dst, t);
  }
  void strided_write(const void* src, void* dst, const StridedLayout& l, DType t) override {
    calls.push_back("strided_write");
    cpu.strided_write(src, dst, l, t);
  }
  void cast(const void* s, DType st, void* d, DType dt, int64_t n) override {
    calls.push_back("cast");
    cpu.cast(s, st, d, dt, n);
  }
  void unary(UnaryOp op, const void* x, void* y, DType t, int64_t n) override {
    calls.push_back("unary");
    cpu.unary(op, x, y, t, n);
  }
  void unary_scalar(ScalarOp op, const void* x, double s, void* y, DType t, int64_t n) override {
    calls.push_back("unary_scalar");
    cpu.unary_scalar(op, x, s, y, t, n);
  }
  void binary(BinaryOp op, const void* a, const void* b, void* o, DType t, int64_t n) override {
    calls.push_back("binary");
    cpu.binary(op, a, b, o, t, n);
  }
  void where(const void* c, const void* a, const void* b, void* o, DType t, int64_t n) override {
    calls.push_back("where");
    cpu.where(c, a, b, o, t, n);
  }
  void reduce(ReduceOp op, const void* x, void* o, DType t, int64_t a, int64_t n,
              int64_t i) override {
    calls.push_back("reduce");
    cpu.reduce(op, x, o, t, a, n, i);
  }
  void matmul(const void* a, const void* b, void* c, DType t, const MatmulArgs& args) override {
    calls.push_back("matmul");
    last_matmul = args;
    cpu.matmul(a, b, c, t, args);
  }
  void index_select(const void* s, const int64_t* idx, void* o, DType t, int64_t a, int64_t r,
                    int64_t i, int64_t k) override {
    calls.push_back("index_select");
    cpu.index_select(s, idx, o, t, a, r, i, k);
  }
  void index_add(void* d, const int64_t* idx, const void* s, DType t, int64_t a, int64_t r,
                 int64_t i, int64_t k) override {
    calls.push_back("index_add");
    cpu.index_add(d, idx, s, t, a, r, i, k);
  }
  void random_uniform(void* d, DType t, int64_t n, uint64_t seed, uint64_t off, double lo,
                      double hi) override {
    calls.push_back("random_uniform");
    cpu.random_uniform(d, t, n, seed, off, lo, hi);
  }
  void random_normal(void* d, DType t, int64_t n, uint64_t seed, uint64_t off, double mean,
                     double sd) override {
    calls.push_back("random_normal");
    cpu.random_normal(d, t, n, seed, off, mean, sd);
  }
};

class BackendDispatch : public ::testing::Test {
 protected:
  static RecordingBackend& rec() {
    static RecordingBackend* backend = [] {
      auto* b = new RecordingBackend();  // lives for the whole program, like a real backend
      register_backend(DeviceType::CUDA, b);
      return b;
    }();
    return *backend;
  }
  void SetUp() override { rec().calls.clear(); }
  const Device dev{DeviceType::CUDA, 0};
};

}  // namespace

TEST_F(BackendDispatch, TensorsOnCudaUseTheRegisteredBackend) {
  Tensor a = tensor({1, 2, 3}, {3}).to(dev);
  EXPECT_EQ(a.device(), dev);
  EXPECT_EQ(rec().calls, (std::vector<std::string>{"h2d"}));
  Tensor b = exp(a) + a;
  EXPECT_EQ(b.device(), dev);
  EXPECT_EQ(rec().calls, (std::vector<std::string>{"h2d", "unary", "binary"}));
  rec().calls.clear();
  const std::vector<float> host = b.to_vector<float>();  // to(kCPU) uses d2h
  EXPECT_EQ(rec().calls, (std::vector<std::string>{"d2h"}));
  EXPECT_NEAR(host[1], std::exp(2.0f) + 2.0f, 1e-5);
}

TEST_F(BackendDispatch, SameRandomNumbersOnEveryDevice) {
  Generator g1(5), g2(5);
  EXPECT_EQ(randn({16}, g1).to_vector<float>(), randn({16}, g2, dev).to_vector<float>());
}

TEST_F(BackendDispatch, TransposedMatmulOperandsAreNotCopied) {
  Tensor a = randn({3, 4}, dev), b = randn({5, 4}, dev);
  rec().calls.clear();
  Tensor c = matmul(a, b.t());  // [3, 4] @ [4, 5] with b read transposed in place
  EXPECT_EQ(rec().calls, (std::vector<std::string>{"matmul"}));
  EXPECT_FALSE(rec().last_matmul.trans_a);
  EXPECT_TRUE(rec().last_matmul.trans_b);
  EXPECT_EQ(rec().last_matmul.ldb, 4);
  // Batched, weight broadcast over the batch with batch stride 0: still no copy.
  Tensor x = randn({2, 3, 4}, dev), w = randn({4, 5}, dev);
  rec().calls.clear();
  matmul(x, w);
  EXPECT_EQ(rec().calls, (std::vector<std::string>{"matmul"}));
  EXPECT_EQ(rec().last_matmul.batch, 2);
  EXPECT_EQ(rec().last_matmul.stride_b, 0);
}

// A backend without binary_repeated (the default returns false) gets the repeated operand
// expanded into a dense copy (compact) and one binary call, with the same result.
TEST_F(BackendDispatch, ABackendWithoutARepeatedLoopGetsTheOperandCopied) {
  Generator gen(3);
  const Tensor x = randn({2, 3, 20}, gen), mask = randn({2, 1, 20}, gen);
  const Tensor xd = x.to(dev), maskd = mask.to(dev);
  rec().calls.clear();
  const Tensor y = mul(xd, maskd);
  EXPECT_EQ(rec().calls, (std::vector<std::string>{"compact", "binary"}));
  EXPECT_EQ(y.to_vector<float>(), mul(x, mask).to_vector<float>());  // the CPU reads it in place
}

TEST_F(BackendDispatch, MixedDevicesAreRejected) {
  try {
    add(zeros({2}), zeros({2}, dev));
    FAIL() << "expected loom::Error";
  } catch (const Error& e) {
    EXPECT_NE(
        std::string(e.what()).find("add: tensors on different devices (cpu [2] and cuda:0 [2])"),
        std::string::npos)
        << e.what();
  }
}

// The CPU allocator's cache (tensor/cpu/backend.cpp) reuses a freed block for a request of a
// slightly different size in the same size class (batch-1 inference changes the sequence
// length, so the size, with every query), and never for a larger one. Off under
// AddressSanitizer, so this test only checks that reuse where the cache is on.
TEST(CpuAllocator, ReusesAFreedBlockWithinItsSizeClass) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the allocation cache is off under AddressSanitizer";
#else
  cpu::CpuBackend& cpu = cpu::cpu_backend();
  cpu.empty_cache();
  const Device host("cpu");
  const std::size_t mb = std::size_t(1) << 20;
  void* first = cpu.allocate(3 * mb, host);   // class 3 MiB (steps of 512 KiB from 2 MiB)
  static_cast<char*>(first)[3 * mb - 1] = 1;  // the whole block is usable
  cpu.deallocate(first, 3 * mb, host);
  void* second = cpu.allocate(3 * mb - 100 * 1024, host);  // a shorter sequence: same class
  EXPECT_EQ(second, first);
  cpu.deallocate(second, 3 * mb - 100 * 1024, host);
  // Larger than the cached block's class (3.5 MiB): the cached block is too small for it.
  void* third = cpu.allocate(3 * mb + 600 * 1024, host);
  EXPECT_NE(third, first);
  static_cast<char*>(third)[3 * mb + 600 * 1024 - 1] = 1;
  cpu.deallocate(third, 3 * mb + 600 * 1024, host);
  cpu.empty_cache();
#endif
}
