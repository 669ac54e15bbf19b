// tests/cuda/parity_adam_test.cpp: CPU-vs-CUDA parity of the fused Adam/AdamW step through its
// Tensor op adam_step_ (tensor/adam.h; cuda/kernels/adam.cu vs tensor/cpu/adam.cpp) and of
// optim::AdamW on cuda:0 (labs 07 and 08). Skips without a CUDA device (the kernel's own dtype
// refusal runs wherever the backend is registered).
//   - odd sizes (1, 3, 1025, 4096, 70000, empty) in one call, so 1024-element tiles cross
//     parameters and both kernel paths run, plus buffers one element into their allocation
//     (misaligned: scalar path only); float32/float64, Adam/AdamW, several steps, per-parameter
//     step counters; more parameters (100) than one launch's table (48).
//   - steps equal; p, m, v within rtol 1e-5 (float32) / 1e-12 (float64) of their terms' scale
//     (nvcc and GCC contract a*b + c into FMAs in different places; libdevice's pow may differ).
//   - writes out of bounds: guard elements around every buffer must stay (1, 2, 0.5, 0.25 for
//     p, g, m, v: neither NaN nor 0, which are fixed points of the update).
//   - found_inf set (1 or NaN): every byte unchanged, step counters included; 0 = no flag.
//   - optim::AdamW on cuda:0 against the CPU, step_if_finite with a device flag, state_dict.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "nn/optim/adam.h"
#include "tensor/adam.h"
#include "tensor/fused_kernels.h"
#include "tests/cuda/parity_util.h"

namespace {

using namespace loom;
using namespace loom::test;

constexpr int64_t kGuard = 8;  // guard elements after (and `lead` before) every buffer
// The guards' values in the p, g, m, v allocations (see the header: none is a fixed point).
constexpr double kGuardP = 1.0, kGuardG = 2.0, kGuardM = 0.5, kGuardV = 0.25;

// Relative tolerance of the step for a dtype (the file header says why not exact).
double adam_rtol(DType dt) {
  return dt == DType::Float64 ? 1e-12 : 1e-5;
}

// One parameter's buffers on one device: p, g, m, v are views of `n` elements starting `lead`
// elements into allocations of lead + n + kGuard elements whose other elements are guards.
struct ParamBuffers {
  int64_t n = 0, lead = 0;
  Tensor p_all, g_all, m_all, v_all, step;  // step: int64 [1]

  Tensor view(const Tensor& all) const { return all.narrow(0, lead, n); }
  AdamTensors arg() const { return {view(p_all), view(g_all), view(m_all), view(v_all), step}; }
  ParamBuffers to(Device dev) const {
    ParamBuffers d = *this;
    d.p_all = p_all.to(dev).clone();
    d.g_all = g_all.to(dev).clone();
    d.m_all = m_all.to(dev).clone();
    d.v_all = v_all.to(dev).clone();
    d.step = step.to(dev).clone();
    return d;
  }
};

// A CPU allocation holding `values` at [lead, lead + n) and `guard` everywhere else.
Tensor guarded(const Tensor& values, int64_t lead, double guard) {
  const int64_t n = values.numel();
  Tensor all = full({lead + n + kGuard}, guard, TensorOptions(values.dtype(), kCPU));
  if (n > 0) all.narrow(0, lead, n).copy_(values);
  return all;
}

ParamBuffers make_param(int64_t n, int64_t lead, int64_t step0, DType dt, Generator& gen) {
  ParamBuffers b;
  b.n = n;
  b.lead = lead;
  b.p_all = guarded(random_tensor({n}, dt, gen, -2, 2), lead, kGuardP);
  b.g_all = guarded(random_tensor({n}, dt, gen, -1, 1), lead, kGuardG);
  b.m_all = guarded(random_tensor({n}, dt, gen, -0.1, 0.1), lead, kGuardM);
  b.v_all = guarded(random_tensor({n}, dt, gen, 0, 0.01), lead, kGuardV);
  b.step = from_vector<int64_t>({step0}, {1});
  return b;
}

// Whether every guard element of `all` (an allocation of `b`'s layout, any device) still holds
// exactly `guard`.
::testing::AssertionResult guards_intact(const ParamBuffers& b, const Tensor& all, double guard) {
  const std::vector<double> v = all.to(kCPU).to_vector<double>();
  for (int64_t i = 0; i < static_cast<int64_t>(v.size()); ++i) {
    if ((i < b.lead || i >= b.lead + b.n) && v[i] != guard)
      return ::testing::AssertionFailure()
             << "guard element " << i << " around a buffer of " << b.n << " elements (lead "
             << b.lead << ") was written: " << v[i] << " instead of " << guard;
  }
  return ::testing::AssertionSuccess();
}

// |a| + |b| (+ |c|) as float64, on the CPU: the scale of an update's terms.
Tensor term_scale(const Tensor& a, const Tensor& b, const Tensor* c = nullptr) {
  Tensor s = abs(a.to(kCPU).to(DType::Float64)) + abs(b.to(kCPU).to(DType::Float64));
  if (c) s = s + abs(c->to(kCPU).to(DType::Float64));
  return s;
}

// Runs `steps` steps of adam_step over the parameters on both backends (fresh gradients each
// step) and compares after every step.
void check_steps(std::vector<ParamBuffers> cpu, DType dt, const AdamHyper& h, int steps,
                 Generator& gen) {
  SCOPED_TRACE(std::string(dtype_name(dt)) + (h.decoupled ? " AdamW" : " Adam") + " wd " +
               std::to_string(h.weight_decay) + ", " + std::to_string(cpu.size()) + " params");
  std::vector<ParamBuffers> gpu;
  for (const ParamBuffers& b : cpu)
    gpu.push_back(b.to(kCuda));
  const Tol tol{adam_rtol(dt), 0};
  for (int s = 0; s < steps; ++s) {
    if (s > 0) {  // fresh gradients, the same on both devices
      for (std::size_t i = 0; i < cpu.size(); ++i) {
        cpu[i].g_all = guarded(random_tensor({cpu[i].n}, dt, gen, -1, 1), cpu[i].lead, kGuardG);
        gpu[i].g_all = cpu[i].g_all.to(kCuda);
      }
    }
    std::vector<Tensor> p_old, m_old;
    std::vector<AdamTensors> cpu_args, gpu_args;
    for (std::size_t i = 0; i < cpu.size(); ++i) {
      p_old.push_back(cpu[i].view(cpu[i].p_all).clone());
      m_old.push_back(cpu[i].view(cpu[i].m_all).clone());
      cpu_args.push_back(cpu[i].arg());
      gpu_args.push_back(gpu[i].arg());
    }
    adam_step_(cpu_args, h);
    adam_step_(gpu_args, h);
    for (std::size_t i = 0; i < cpu.size(); ++i) {
      const ParamBuffers &c = cpu[i], &g = gpu[i];
      SCOPED_TRACE("step " + std::to_string(s) + ", parameter " + std::to_string(i) + " (" +
                   std::to_string(c.n) + " elements, lead " + std::to_string(c.lead) + ")");
      ASSERT_TRUE(expect_close(c.step, g.step));
      const Tensor cp = c.view(c.p_all), cm = c.view(c.m_all), cv = c.view(c.v_all);
      const Tensor grad = c.view(c.g_all);
      ASSERT_TRUE(expect_close(cp, g.view(g.p_all), tol, term_scale(p_old[i], cp)));
      ASSERT_TRUE(expect_close(cm, g.view(g.m_all), tol, term_scale(m_old[i], cm, &grad)));
      ASSERT_TRUE(expect_close(cv, g.view(g.v_all), tol));
      ASSERT_TRUE(guards_intact(g, g.p_all, kGuardP)) << "p";
      ASSERT_TRUE(guards_intact(g, g.m_all, kGuardM)) << "exp_avg";
      ASSERT_TRUE(guards_intact(g, g.v_all, kGuardV)) << "exp_avg_sq";
    }
  }
}

TEST(CudaParityAdam, OddSizesBothDTypesAdamAndAdamW) {
  LOOM_PARITY_BEGIN();
  // (size, lead): lead 1 misaligns every buffer of that parameter by one element.
  const std::vector<std::pair<int64_t, int64_t>> shapes = {
      {1, 0}, {3, 0}, {1025, 0}, {4096, 0}, {0, 0}, {70000, 0}, {2051, 1}, {70000, 1}};
  for (DType dt : {DType::Float32, DType::Float64}) {
    for (bool decoupled : {false, true}) {
      std::vector<ParamBuffers> params;
      for (std::size_t i = 0; i < shapes.size(); ++i)
        params.push_back(
            make_param(shapes[i].first, shapes[i].second, static_cast<int64_t>(i % 4), dt, gen));
      AdamHyper h;
      h.lr = 0.01;
      h.beta1 = 0.8;
      h.beta2 = 0.95;
      h.weight_decay = 0.05;
      h.decoupled = decoupled;
      check_steps(params, dt, h, 4, gen);
    }
  }
}

// 100 parameters: three launches of at most 48, each advancing its own counters.
TEST(CudaParityAdam, MoreParametersThanOneLaunchHolds) {
  LOOM_PARITY_BEGIN();
  std::vector<ParamBuffers> params;
  for (int i = 0; i < 100; ++i)
    params.push_back(
        make_param(static_cast<int64_t>(gen.uniform() * 3000), i % 2, i % 7, DType::Float32, gen));
  AdamHyper h;
  h.lr = 0.003;
  check_steps(params, DType::Float32, h, 2, gen);
}

TEST(CudaParityAdam, ASetFoundInfFlagLeavesEveryByteUntouched) {
  LOOM_PARITY_BEGIN();
  AdamHyper h;
  h.decoupled = true;
  h.weight_decay = 0.01;
  for (DType dt : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(dt));
    std::vector<ParamBuffers> gpu;
    std::vector<AdamTensors> args;
    for (int64_t n : {1, 1025, 70000}) {
      gpu.push_back(make_param(n, 0, 3, dt, gen).to(kCuda));
      args.push_back(gpu.back().arg());
    }
    std::vector<ParamBuffers> before;
    for (const ParamBuffers& b : gpu)
      before.push_back(b.to(kCPU));
    for (float flag : {1.0f, std::numeric_limits<float>::quiet_NaN()}) {
      const Tensor found_inf = from_vector<float>({flag}, {1}).to(kCuda);
      adam_step_(args, h, found_inf);
      for (std::size_t i = 0; i < gpu.size(); ++i) {
        EXPECT_TRUE(expect_close(before[i].p_all, gpu[i].p_all)) << "p " << i;
        EXPECT_TRUE(expect_close(before[i].m_all, gpu[i].m_all)) << "m " << i;
        EXPECT_TRUE(expect_close(before[i].v_all, gpu[i].v_all)) << "v " << i;
        EXPECT_EQ(gpu[i].step.item<int64_t>(), 3) << "a skipped step does not count";
      }
    }
    // A clean flag: the same as no flag at all.
    std::vector<ParamBuffers> other;
    std::vector<AdamTensors> other_args;
    for (const ParamBuffers& b : before) {
      other.push_back(b.to(kCuda));
      other_args.push_back(other.back().arg());
    }
    const Tensor clean = zeros({1}, TensorOptions(DType::Float32, kCuda));
    adam_step_(args, h, clean);
    adam_step_(other_args, h);
    for (std::size_t i = 0; i < gpu.size(); ++i) {
      EXPECT_TRUE(expect_close(other[i].p_all, gpu[i].p_all)) << "p " << i;
      EXPECT_EQ(gpu[i].step.item<int64_t>(), 4);
    }
  }
}

// optim::AdamW with its parameters on cuda:0 against the same optimizer on the CPU.
TEST(CudaParityAdam, TheOptimizerOnTheGpuMatchesTheCpu) {
  LOOM_PARITY_BEGIN();
  using namespace loom::nn;
  using namespace loom::nn::optim;
  const std::vector<Shape> shapes = {{500, 100}, {400, 100}, {400}, {1, 100}, {1}};
  std::vector<Variable> cpu, gpu;
  for (const Shape& s : shapes) {
    const Tensor init = random_tensor(s, DType::Float32, gen);
    cpu.emplace_back(init.clone(), true);
    gpu.emplace_back(init.to(kCuda), true);
  }
  AdamW on_cpu(cpu, AdamWOptions(0.01)), on_gpu(gpu, AdamWOptions(0.01));
  const Tensor overflow = full({1}, 1.0, TensorOptions(DType::Float32, kCuda));
  const Tensor clean = zeros({1}, TensorOptions(DType::Float32, kCuda));
  for (int s = 0; s < 5; ++s) {
    SCOPED_TRACE("step " + std::to_string(s));
    std::vector<Tensor> before;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      const Tensor g = random_tensor(shapes[i], DType::Float32, gen, -1, 1);
      cpu[i].set_grad(g);
      gpu[i].set_grad(g.to(kCuda));
      before.push_back(gpu[i].data().to(kCPU));
    }
    // Step 2 overflows: the GPU optimizer must skip it without the host reading the flag.
    if (s == 2) {
      EXPECT_TRUE(on_gpu.step_if_finite(overflow));
      for (std::size_t i = 0; i < shapes.size(); ++i)
        EXPECT_TRUE(expect_close(before[i], gpu[i].data())) << "parameter " << i;
      continue;
    }
    on_cpu.step();
    EXPECT_TRUE(on_gpu.step_if_finite(clean));
    for (std::size_t i = 0; i < shapes.size(); ++i)
      EXPECT_TRUE(expect_close(cpu[i].data(), gpu[i].data(), Tol{1e-5, 0},
                               term_scale(before[i], cpu[i].data())))
          << "parameter " << i;
  }
  const StateDict st = on_gpu.state_dict();
  EXPECT_EQ(find_tensor(st, "0.step")->item<int64_t>(), 4);  // 5 steps, one skipped
  EXPECT_EQ(find_tensor(on_cpu.state_dict(), "0.step")->item<int64_t>(), 4);
}

// The kernel's own refusal, checked on the host before any CUDA call, so this runs without a
// device too (adam_step_ refuses these dtypes before it gets here: tests/tensor).
TEST(CudaParityAdam, TheKernelRefusesUnsupportedDTypes) {
  if (!has_backend(DeviceType::CUDA)) GTEST_SKIP() << "this build has no CUDA backend";
  int64_t step = 0;
  const AdamParam arg{nullptr, nullptr, nullptr, nullptr, &step, 0};
  for (DType dt : {DType::Float16, DType::BFloat16, DType::Int64}) {
    const std::string msg = error_of([&] {
      fused_kernels_for(kCuda, "adam test").adam_step(&arg, 1, dt, AdamHyper{}, nullptr);
    });
    EXPECT_NE(msg.find("adam_step on cuda: float32 or float64 parameters"), std::string::npos)
        << msg;
  }
}

}  // namespace
