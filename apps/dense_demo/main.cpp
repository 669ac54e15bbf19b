// apps/dense_demo/main.cpp: loom's smallest end-to-end program.
//
// Fits y = tanh(2 x0) - 0.5 x1^2 on 256 random points with a two-layer Dense network
// (2 -> 32 -> 1, tanh), mean squared error and plain SGD written out by hand, and prints the
// loss falling. It uses only tensor/ and autograd/: no nn/ layers, no optimizer class. It runs on
// the CPU; it asks cuda/ only for the device report it prints at start-up.
// `dense_demo --dot FILE` also writes the graph of the first step's loss in Graphviz's DOT
// language (autograd/dot.h); docs/labs/figures/make_figures.sh draws it for lab 02.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "autograd/dot.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "cuda/runtime/device.h"
#include "tensor/cpu/threads.h"

using namespace loom;

int main(int argc, char** argv) {
  std::string dot_path;  // --dot FILE: write the first step's graph there
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--dot") == 0 && i + 1 < argc) {
      dot_path = argv[++i];
    } else {
      std::fprintf(stderr, "dense_demo: unknown argument '%s' (usage: dense_demo [--dot FILE])\n",
                   argv[i]);
      return 2;
    }
  }
  // The device query runs first, so every run shows what this build and machine can use;
  // on a machine without a GPU it says "CUDA: no device (<reason>)" and training goes on.
  std::printf("device: cpu (%d threads); %s\n", get_num_threads(),
              loom::cuda::device_report().c_str());
  const auto start = std::chrono::steady_clock::now();

  // Data: x [256, 2] uniform in [-2, 2); target y [256, 1].
  Generator gen(0);
  const Tensor x = uniform({256, 2}, -2.0, 2.0, gen);
  const Tensor x0 = x.select(1, 0), x1 = x.select(1, 1);
  const Tensor y = (tanh(x0 * 2.0) - pow(x1, 2.0) * 0.5).unsqueeze(1);

  // Parameters: leaves that require grad. W1 [2, 32], b1 [32], W2 [32, 1], b2 [1].
  Variable w1(normal({2, 32}, 0.0, 0.7, gen), true);
  Variable b1(zeros({32}), true);
  Variable w2(normal({32, 1}, 0.0, 0.2, gen), true);
  Variable b2(zeros({1}), true);
  w1.set_name("w1");
  b1.set_name("b1");
  w2.set_name("w2");
  b2.set_name("b2");
  const std::vector<Variable> params = {w1, b1, w2, b2};
  const Variable input(x), target(y);

  const double lr = 0.1;
  for (int step = 0; step <= 200; ++step) {
    // Forward: [256, 2] @ [2, 32] + [32] -> tanh -> [256, 32] @ [32, 1] + [1].
    Variable h = tanh(matmul(input, w1) + b1);
    Variable pred = matmul(h, w2) + b2;
    Variable diff = pred - target;
    Variable loss = mean(diff * diff);

    if (step == 0 && !dot_path.empty()) {
      std::ofstream(dot_path) << to_dot(loss);  // the graph backward() is about to walk
      std::printf("wrote the graph of the loss to %s\n", dot_path.c_str());
    }
    loss.backward();  // accumulates d loss / d param into each param's .grad
    {
      NoGradGuard no_grad;  // the update itself is not part of the graph
      for (const Variable& p : params) {
        p.data().copy_(p.data() - p.grad() * lr);
        p.zero_grad();  // backward accumulates: reset before the next step
      }
    }
    if (step % 20 == 0) std::printf("step %3d  loss %.5f\n", step, loss.item<double>());
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("trained in %.3f s\n", secs);
  return 0;
}
