// tensor/kernels/lstm_pointwise.h: the LSTM cell's pointwise math, shared by the CPU and CUDA code.
//
// After the GEMMs of one timestep, everything an LSTM cell does is independent per (batch row b,
// hidden unit j): four gate pre-activations in, a new cell and hidden state out. This header
// holds that math once, forward and backward side by side, as inline functions that compile as
// plain C++ (the CPU loop, tensor/cpu/lstm.cpp) and as CUDA device code (one thread per element),
// so the two backends cannot drift apart. Gate order is PyTorch's (i, f, g, o): in a [4H] row of
// pre-activations, gate k of unit j is at offset k*H + j. docs/labs/04-lstm-bptt.md derives each
// line (sections 1-2) and says why backward needs exactly the activated gates, tanh(c) and
// c_prev (section 3).
// Types: T is the storage type (float, double; __half on the GPU), C the compute type (float or
// double). Values are loaded as C, computed in C and stored as T, so fp16 storage keeps float
// arithmetic.
//
// Leaves out: peephole connections, projections (proj_size), layer norm, and the GEMMs.
#pragma once

#include <cmath>
#include <cstdint>

#include "tensor/kernels/host_device.h"

namespace loom::kernels {

// Four values in PyTorch's gate order; used for pre-activations, activations and their gradients.
template <typename C>
struct LstmGates {
  C i, f, g, o;
};

// The overloads pick the C library function of the right precision; both ::expf and ::exp
// exist as host and device functions, which std:: templates do not guarantee.
LOOM_HOST_DEVICE inline float lstm_exp(float x) {
  return ::expf(x);
}
LOOM_HOST_DEVICE inline double lstm_exp(double x) {
  return ::exp(x);
}
LOOM_HOST_DEVICE inline float lstm_tanh(float x) {
  return ::tanhf(x);
}
LOOM_HOST_DEVICE inline double lstm_tanh(double x) {
  return ::tanh(x);
}

LOOM_HOST_DEVICE inline float lstm_abs(float x) {
  return ::fabsf(x);
}
LOOM_HOST_DEVICE inline double lstm_abs(double x) {
  return ::fabs(x);
}

// sigmoid(x) = 1 / (1 + exp(-x)), written so that exp never overflows: with e = exp(-|x|) <= 1,
// sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0 (exact in exact arithmetic).
// One exp and a select, no branch around the call: that lets the compiler vectorise a loop of
// these with a SIMD exp (tensor/cpu/lstm.cpp), and keeps GPU threads of a warp together.
template <typename C>
LOOM_HOST_DEVICE inline C lstm_sigmoid(C x) {
  const C e = lstm_exp(-lstm_abs(x));
  const C r = C(1) / (C(1) + e);
  return x >= C(0) ? r : e * r;
}

// ---- forward ----------------------------------------------------------------------------------

template <typename C>
struct LstmForwardResult {
  LstmGates<C> act;  // activated gates: saved for backward
  C c;               // new cell state c_t: carried to t+1, and it is t+1's c_prev in backward
  C tanh_c;          // tanh(c_t): saved for backward (dh/do and dh/dc both need it)
  C h;               // new hidden state h_t = o * tanh(c_t)
};

// One (b, j) element: pre-activations (both biases included) and c_{t-1} in, the step's state out.
template <typename C>
LOOM_HOST_DEVICE inline LstmForwardResult<C> lstm_pointwise_forward(LstmGates<C> pre, C c_prev) {
  LstmForwardResult<C> r;
  r.act.i = lstm_sigmoid(pre.i);
  r.act.f = lstm_sigmoid(pre.f);
  r.act.g = lstm_tanh(pre.g);
  r.act.o = lstm_sigmoid(pre.o);
  r.c = r.act.f * c_prev + r.act.i * r.act.g;
  r.tanh_c = lstm_tanh(r.c);
  r.h = r.act.o * r.tanh_c;
  return r;
}

// ---- backward ---------------------------------------------------------------------------------

template <typename C>
struct LstmBackwardResult {
  LstmGates<C> d_pre;  // dL/d(pre-activation): feeds the weight gradients and dh_{t-1}
  C dc_prev;           // dL/dc_{t-1} through this step's c = f*c_prev + ...
};

// One (b, j) element. dh = dL/dh_t (all paths), dc_next = dL/dc_t arriving from step t+1
// (zero at the last step unless c_n has a gradient). act, c_prev, tanh_c: saved in forward.
template <typename C>
LOOM_HOST_DEVICE inline LstmBackwardResult<C> lstm_pointwise_backward(C dh, C dc_next,
                                                                      LstmGates<C> act, C c_prev,
                                                                      C tanh_c) {
  // c_t reaches the loss two ways: through h_t = o*tanh(c_t) and through c_{t+1}.
  const C dc = dc_next + dh * act.o * (C(1) - tanh_c * tanh_c);
  LstmBackwardResult<C> r;
  // Chain each gate's local derivative: sigmoid' = s(1-s), tanh' = 1-t^2, from saved outputs.
  r.d_pre.i = dc * act.g * act.i * (C(1) - act.i);
  r.d_pre.f = dc * c_prev * act.f * (C(1) - act.f);
  r.d_pre.g = dc * act.i * (C(1) - act.g * act.g);
  r.d_pre.o = dh * tanh_c * act.o * (C(1) - act.o);
  r.dc_prev = dc * act.f;
  return r;
}

// ---- strided-memory wrappers: what the CPU loop and the CUDA kernel call -----------------------
//
// `pre` and `act` point at gate i of unit j in a [4H] row (gate k at offset k*H). Every pointer
// is to storage type T; arithmetic is in C. `act` may alias `pre` (the fused forward overwrites
// the pre-activations with the activations it saves).

template <typename T, typename C = T>
LOOM_HOST_DEVICE inline void lstm_pointwise_forward_at(const T* pre, std::int64_t H,
                                                       const T* c_prev, T* act, T* c, T* tanh_c,
                                                       T* h) {
  const LstmGates<C> p{static_cast<C>(pre[0]), static_cast<C>(pre[H]), static_cast<C>(pre[2 * H]),
                       static_cast<C>(pre[3 * H])};
  const LstmForwardResult<C> r = lstm_pointwise_forward<C>(p, static_cast<C>(*c_prev));
  act[0] = static_cast<T>(r.act.i);
  act[H] = static_cast<T>(r.act.f);
  act[2 * H] = static_cast<T>(r.act.g);
  act[3 * H] = static_cast<T>(r.act.o);
  *c = static_cast<T>(r.c);
  *tanh_c = static_cast<T>(r.tanh_c);
  *h = static_cast<T>(r.h);
}

// `d_pre` points at gate i of unit j in a [4H] gradient row; it may alias `act`.
template <typename T, typename C = T>
LOOM_HOST_DEVICE inline void lstm_pointwise_backward_at(const T* dh, const T* dc_next, const T* act,
                                                        std::int64_t H, const T* c_prev,
                                                        const T* tanh_c, T* d_pre, T* dc_prev) {
  const LstmGates<C> a{static_cast<C>(act[0]), static_cast<C>(act[H]), static_cast<C>(act[2 * H]),
                       static_cast<C>(act[3 * H])};
  const LstmBackwardResult<C> r =
      lstm_pointwise_backward<C>(static_cast<C>(*dh), static_cast<C>(*dc_next), a,
                                 static_cast<C>(*c_prev), static_cast<C>(*tanh_c));
  d_pre[0] = static_cast<T>(r.d_pre.i);
  d_pre[H] = static_cast<T>(r.d_pre.f);
  d_pre[2 * H] = static_cast<T>(r.d_pre.g);
  d_pre[3 * H] = static_cast<T>(r.d_pre.o);
  *dc_prev = static_cast<T>(r.dc_prev);
}

}  // namespace loom::kernels
