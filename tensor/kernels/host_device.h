// tensor/kernels/host_device.h: LOOM_HOST_DEVICE, for functions compiled for both CPU and GPU.
//
// Code that both backends run (the Philox generator, the LSTM cell math) is written once, in a
// plain header, and marked LOOM_HOST_DEVICE. Under nvcc that means __host__ __device__; under a
// C++ compiler it means nothing, so this header pulls in no CUDA header.
#pragma once

#ifdef __CUDACC__
#define LOOM_HOST_DEVICE __host__ __device__
#else
#define LOOM_HOST_DEVICE
#endif
