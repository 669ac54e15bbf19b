// tests/cuda/parity_elementwise_test.cpp: CPU-vs-CUDA parity of unary, unary_scalar, binary and
// where, for every op and every dtype the CPU supports (and the same refusals where it does
// not), on both kernel paths (vectorized: aligned buffers; scalar: buffers starting one element
// in, and odd lengths for the tail), then broadcasting through the frontend ops.
// Skips without a CUDA device.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/cuda/parity_util.h"

namespace {

using namespace loom;
using namespace loom::test;

// Lengths: a single element, less than one pack, odd (a tail after the packs), a round size.
const int64_t kLengths[] = {1, 3, 1027, 4096};

bool integer_ok(UnaryOp op) {
  return op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign || op == UnaryOp::Relu;
}

// Runs `run(backend, in_ptrs..., out_ptr)` on both devices with the inputs `in` at element
// `shift` of their buffers (shift 1 makes the device pointers misaligned for 16-byte packs)
// and a poisoned output, and checks the outputs agree within `tol`.
template <typename Run>
void check_both(const std::vector<Tensor>& in, DType out_dtype, int64_t n, int64_t shift, Tol tol,
                Run&& run) {
  std::vector<Tensor> cpu_in, cuda_in;
  for (const Tensor& t : in) {
    // A buffer of n + shift elements whose tail [shift, n + shift) holds the input.
    Tensor buf = zeros({n + shift}, TensorOptions(t.dtype(), kCPU));
    buf.narrow(0, shift, n).copy_(t);
    cpu_in.push_back(buf);
    cuda_in.push_back(buf.to(kCuda));
  }
  Tensor ref = poisoned({n + shift}, out_dtype, kCPU),
         got = poisoned({n + shift}, out_dtype, kCuda);
  auto ptrs = [&](const std::vector<Tensor>& ts) {
    std::vector<const void*> p;
    for (const Tensor& t : ts)
      p.push_back(t.narrow(0, shift, n).raw_data());
    return p;
  };
  run(cpu_be(), ptrs(cpu_in), ref.narrow(0, shift, n).raw_data());
  run(cuda_be(), ptrs(cuda_in), got.narrow(0, shift, n).raw_data());
  EXPECT_TRUE(expect_close(ref.narrow(0, shift, n), got.narrow(0, shift, n), tol))
      << "n " << n << " shift " << shift;
}

TEST(CudaParityElementwise, UnaryEveryOpEveryDType) {
  LOOM_PARITY_BEGIN();
  const UnaryOp ops[] = {UnaryOp::Neg,  UnaryOp::Exp,     UnaryOp::Log,
                         UnaryOp::Tanh, UnaryOp::Sigmoid, UnaryOp::Relu,
                         UnaryOp::Sqrt, UnaryOp::Abs,     UnaryOp::Sign};
  for (UnaryOp op : ops) {
    for (DType dt : kAllDTypes) {
      SCOPED_TRACE(std::string(unary_op_name(op)) + " " + dtype_name(dt));
      const bool supported = dt != DType::Bool && (is_floating(dt) || integer_ok(op));
      const bool positive = op == UnaryOp::Log || op == UnaryOp::Sqrt;
      if (!supported) {
        Tensor x = random_tensor({4}, dt, gen).to(kCuda), y = poisoned({4}, dt, kCuda);
        const std::string msg =
            error_of([&] { cuda_be().unary(op, x.raw_data(), y.raw_data(), dt, 4); });
        EXPECT_NE(msg.find("not supported"), std::string::npos) << msg;
        continue;
      }
      for (int64_t n : kLengths) {
        for (int64_t shift : {0, 1}) {
          const Tensor x =
              positive ? random_tensor({n}, dt, gen, 0.05, 20) : random_tensor({n}, dt, gen, -6, 6);
          check_both({x}, dt, n, shift, tol_for(dt),
                     [&](Backend& be, const std::vector<const void*>& in, void* out) {
                       be.unary(op, in[0], out, dt, n);
                     });
        }
      }
    }
  }
}

TEST(CudaParityElementwise, ScalarEveryOpEveryDType) {
  LOOM_PARITY_BEGIN();
  const ScalarOp ops[] = {ScalarOp::Add,  ScalarOp::Mul, ScalarOp::Div,       ScalarOp::RSub,
                          ScalarOp::RDiv, ScalarOp::Pow, ScalarOp::LeakyRelu, ScalarOp::Max,
                          ScalarOp::Min,  ScalarOp::Elu};
  for (ScalarOp op : ops) {
    for (DType dt : kAllDTypes) {
      SCOPED_TRACE("scalar op " + std::to_string(static_cast<int>(op)) + " " + dtype_name(dt));
      const bool int_ok = op != ScalarOp::RDiv && op != ScalarOp::Pow &&
                          op != ScalarOp::LeakyRelu && op != ScalarOp::Elu;
      const bool supported = dt != DType::Bool && (is_floating(dt) || int_ok);
      // A fresh scalar each run: |s| in [0.5, 3.5) with either sign (away from 0, so integer
      // results stay in range), or an exponent in [-1.5, 1.5) for Pow.
      const double sign = gen.uniform() < 0.5 ? -1.0 : 1.0;
      const double s =
          op == ScalarOp::Pow ? gen.uniform() * 3 - 1.5 : sign * (0.5 + 3 * gen.uniform());
      if (!supported) {
        Tensor x = random_tensor({4}, dt, gen).to(kCuda), y = poisoned({4}, dt, kCuda);
        EXPECT_THROW(cuda_be().unary_scalar(op, x.raw_data(), s, y.raw_data(), dt, 4), Error);
        continue;
      }
      const bool positive = op == ScalarOp::Pow || op == ScalarOp::RDiv;
      for (int64_t n : kLengths) {
        for (int64_t shift : {0, 1}) {
          const Tensor x = is_floating(dt) ? (positive ? random_tensor({n}, dt, gen, 0.1, 4)
                                                       : random_tensor({n}, dt, gen, -6, 6))
                                           : random_tensor({n}, dt, gen, -1000, 1000);
          check_both({x}, dt, n, shift, tol_for(dt),
                     [&](Backend& be, const std::vector<const void*>& in, void* out) {
                       be.unary_scalar(op, in[0], s, out, dt, n);
                     });
        }
      }
    }
  }
}

TEST(CudaParityElementwise, BinaryEveryOpEveryDType) {
  LOOM_PARITY_BEGIN();
  const BinaryOp ops[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Max,
                          BinaryOp::Min, BinaryOp::Pow, BinaryOp::Eq,  BinaryOp::Ne,  BinaryOp::Lt,
                          BinaryOp::Le,  BinaryOp::Gt,  BinaryOp::Ge};
  for (BinaryOp op : ops) {
    for (DType dt : kAllDTypes) {
      SCOPED_TRACE(std::string(binary_op_name(op)) + " " + dtype_name(dt));
      const bool arith = op == BinaryOp::Add || op == BinaryOp::Sub || op == BinaryOp::Mul ||
                         op == BinaryOp::Div || op == BinaryOp::Pow;
      const bool supported =
          !(dt == DType::Bool && arith) && !(!is_floating(dt) && op == BinaryOp::Pow);
      const DType out_dt = is_comparison(op) ? DType::Bool : dt;
      if (!supported) {
        Tensor a = random_tensor({4}, dt, gen).to(kCuda), o = poisoned({4}, out_dt, kCuda);
        EXPECT_THROW(cuda_be().binary(op, a.raw_data(), a.raw_data(), o.raw_data(), dt, 4), Error);
        continue;
      }
      for (int64_t n : kLengths) {
        for (int64_t shift : {0, 1}) {
          Tensor a, b;
          if (op == BinaryOp::Pow) {
            a = random_tensor({n}, dt, gen, 0.2, 3);
            b = random_tensor({n}, dt, gen, -2, 2);
          } else if (is_comparison(op) || op == BinaryOp::Max || op == BinaryOp::Min) {
            // Few distinct values, so equal pairs occur often.
            a = random_tensor({n}, DType::Int64, gen, -3, 4).to(dt);
            b = random_tensor({n}, DType::Int64, gen, -3, 4).to(dt);
          } else if (op == BinaryOp::Div) {
            a = random_tensor({n}, dt, gen, -100, 100);
            // Divisors away from zero (integers: never 0).
            const Tensor mag = random_tensor({n}, DType::Float64, gen, 1, 9);
            const Tensor sgn = where(gt(random_tensor({n}, DType::Float64, gen, 0, 1), 0.5),
                                     ones({n}, DType::Float64), full({n}, -1.0, DType::Float64));
            b = (mag * sgn).to(dt);
          } else {
            a = random_tensor({n}, dt, gen, -100, 100);
            b = random_tensor({n}, dt, gen, -100, 100);
          }
          check_both({a, b}, out_dt, n, shift, tol_for(out_dt),
                     [&](Backend& be, const std::vector<const void*>& in, void* out) {
                       be.binary(op, in[0], in[1], out, dt, n);
                     });
        }
      }
    }
  }
}

TEST(CudaParityElementwise, IntegerDivisionByZeroThrowsLikeTheCpu) {
  LOOM_PARITY_BEGIN();
  for (DType dt : kIntDTypes) {
    const Tensor a = random_tensor({100}, dt, gen, -50, 50);
    Tensor b = random_tensor({100}, dt, gen, 1, 9);
    b.narrow(0, 37, 1).fill_(0);
    const std::string cpu_msg = error_of([&] { div(a, b); });
    const std::string cuda_msg = error_of([&] { div(a.to(kCuda), b.to(kCuda)); });
    EXPECT_NE(cuda_msg.find("division by zero"), std::string::npos) << cuda_msg;
    EXPECT_EQ(cpu_msg, cuda_msg);
  }
}

TEST(CudaParityElementwise, WhereEveryDType) {
  LOOM_PARITY_BEGIN();
  for (DType dt : kAllDTypes) {
    SCOPED_TRACE(dtype_name(dt));
    for (int64_t n : kLengths) {
      const Tensor cond = random_tensor({n}, DType::Bool, gen);
      const Tensor a = random_tensor({n}, dt, gen, -100, 100);
      const Tensor b = random_tensor({n}, dt, gen, -100, 100);
      check_both({cond, a, b}, dt, n, 1, {},
                 [&](Backend& be, const std::vector<const void*>& in, void* out) {
                   be.where(in[0], in[1], in[2], out, dt, n);
                 });
    }
  }
}

// Broadcasting happens in the frontend (expand + compact), then the same kernels run: check
// the whole path on CUDA against the CPU, outputs coming from a poisoned allocator cache.
TEST(CudaParityElementwise, FrontendBroadcastingMatchesTheCpu) {
  LOOM_PARITY_BEGIN();
  for (DType dt : kFloatDTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor a = random_tensor({3, 1, 5}, dt, gen, 0.5, 2);
    const Tensor b = random_tensor({4, 5}, dt, gen, 0.5, 2);
    const Tensor c = random_tensor({4, 1}, dt, gen, 0.5, 2);
    const Tensor ad = a.to(kCuda), bd = b.to(kCuda), cd = c.to(kCuda);
    const Tol tol = tol_for(dt);
    const std::size_t out_bytes = 3 * 4 * 5 * dtype_size(dt);
    poison_cuda_cache(out_bytes);
    EXPECT_TRUE(expect_close(add(a, b), add(ad, bd), tol));
    poison_cuda_cache(out_bytes);
    EXPECT_TRUE(expect_close(div(a, c), div(ad, cd), tol));
    poison_cuda_cache(out_bytes);
    EXPECT_TRUE(expect_close(pow(b, a), pow(bd, ad), tol));
    EXPECT_TRUE(expect_close(maximum(a.transpose(0, 2), b.t().unsqueeze(2)),
                             maximum(ad.transpose(0, 2), bd.t().unsqueeze(2)), tol));
    EXPECT_TRUE(expect_close(lt(a, b), lt(ad, bd)));
    EXPECT_TRUE(expect_close(where(gt(a, b), a, c), where(gt(ad, bd), ad, cd)));
    EXPECT_TRUE(expect_close(sigmoid(a * 3.0 - 4.0), sigmoid(ad * 3.0 - 4.0), tol));
    EXPECT_TRUE(expect_close(clamp(b, 0.8, 1.5), clamp(bd, 0.8, 1.5)));
    EXPECT_TRUE(expect_close(leaky_relu(b - 1.0, 0.2), leaky_relu(bd - 1.0, 0.2), tol));
    EXPECT_TRUE(expect_close(masked_fill(b, gt(c, 1.0), -7), masked_fill(bd, gt(cd, 1.0), -7)));
    // Non-contiguous inputs to a unary op: compact, then the kernel.
    EXPECT_TRUE(expect_close(exp(b.t()), exp(bd.t()), tol));
  }
  for (DType dt : kIntDTypes) {
    const Tensor a = random_tensor({2, 1, 6}, dt, gen, -20, 20);
    const Tensor b = random_tensor({3, 6}, dt, gen, -20, 20);
    EXPECT_TRUE(expect_close(a * b - a, a.to(kCuda) * b.to(kCuda) - a.to(kCuda)));
    EXPECT_TRUE(expect_close(abs(neg(a)), abs(neg(a.to(kCuda)))));
    EXPECT_TRUE(expect_close(ge(a, b), ge(a.to(kCuda), b.to(kCuda))));
  }
}

}  // namespace
