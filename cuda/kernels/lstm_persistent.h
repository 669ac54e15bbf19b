// cuda/kernels/lstm_persistent.h: the persistent LSTM's launchers (lstm_persistent.cu), the
// recurrence in one kernel each way. Internal to cuda/: lstm.cu calls them when the caller asks
// for `persistent` and it fits; the contract is tensor/fused_kernels.h's (state == gemm dtype).
#pragma once

#include <cstdint>

#include "tensor/fused_kernels.h"

namespace loom::cuda {

// Whether W_hh [4H, H] in `dtype` (float32, float64) and the block's state fit one thread block
// of the current device.
bool persistent_lstm_fits(DType dtype, int64_t H);
void persistent_lstm_forward(const LstmRecurrence& r, const LstmForwardBuffers& b);
void persistent_lstm_backward(const LstmRecurrence& r, const LstmBackwardBuffers& b);

}  // namespace loom::cuda
