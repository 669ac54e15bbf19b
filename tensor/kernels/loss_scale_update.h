// tensor/kernels/loss_scale_update.h: the dynamic loss scaler's state machine, shared by the CPU
// (tensor/cpu/loss_scale.cpp) and the CUDA kernel (cuda/kernels/loss_scale_kernels.cuh), so the
// two cannot drift apart; and the two plain types its Tensor op (tensor/loss_scale.h) takes.
//
// After each step: on overflow the scale backs off and the step counts as skipped (a collapse is
// flagged when the scale falls below min_scale or too many steps in a row overflow); otherwise,
// after growth_interval clean steps in a row, the scale grows.
//
// Leaves out: the unscale pass (a loop in each backend), reading the flag on the host.
#pragma once

#include <cmath>
#include <cstdint>

#include "tensor/kernels/host_device.h"

namespace loom {

// Indices into the scaler's counters (Int64 [kAmpNumCounters]). `collapsed` is sticky: only the
// host (loading a state) resets it; 1 = the scale fell below min_scale, 2 = too many skips in a
// row.
enum AmpCounter {
  kAmpGrowthTracker,
  kAmpConsecutiveSkips,
  kAmpSkippedSteps,
  kAmpCollapsed,
  kAmpNumCounters
};

struct AmpScaleUpdate {
  double growth_factor = 2.0, backoff_factor = 0.5;
  int64_t growth_interval = 2000;
  double min_scale = 1.0;
  int64_t max_consecutive_skips = 20;  // <= 0: no limit
};

namespace kernels {

LOOM_HOST_DEVICE inline bool scale_is_finite(float x) {
#ifdef __CUDACC__
  return isfinite(x);
#else
  return std::isfinite(x);
#endif
}

// One update of (scale, counters) after a step that did (overflow) or did not overflow.
LOOM_HOST_DEVICE inline void update_loss_scale(float* scale, int64_t* counters, bool overflow,
                                               const AmpScaleUpdate& a) {
  // BEGIN LAB 07 TASK 1 uses(scale, counters, overflow, a)
  int64_t& tracker = counters[kAmpGrowthTracker];
  int64_t& consecutive = counters[kAmpConsecutiveSkips];
  if (overflow) {
    *scale = static_cast<float>(*scale * a.backoff_factor);
    tracker = 0;
    ++consecutive;
    ++counters[kAmpSkippedSteps];
    // Sticky: the first reason found is kept until the host resets it.
    if (counters[kAmpCollapsed] == 0) {
      if (*scale < a.min_scale)
        counters[kAmpCollapsed] = 1;
      else if (a.max_consecutive_skips > 0 && consecutive >= a.max_consecutive_skips)
        counters[kAmpCollapsed] = 2;
    }
    return;
  }
  consecutive = 0;
  if (++tracker >= a.growth_interval) {
    const float grown = static_cast<float>(*scale * a.growth_factor);
    if (scale_is_finite(grown)) *scale = grown;  // at float32's top the scale just stays
    tracker = 0;
  }
  // END LAB 07 TASK 1
}

}  // namespace kernels
}  // namespace loom
