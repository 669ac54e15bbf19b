// nn/distributed/ring_all_reduce.h: the ring all-reduce, written on MPI point-to-point calls.
//
// What MPI_Allreduce (and NCCL) do inside, spelled out for lab 09: the P ranks form a ring
// (rank r sends to r + 1 and receives from r - 1, modulo P), the buffer is cut into P chunks, and
// 2 (P - 1) steps of MPI_Sendrecv move one chunk each: P - 1 steps of reduce-scatter (each rank
// ends holding the full sum of one chunk), then P - 1 steps of all-gather (every rank gets every
// summed chunk). Each rank sends 2 (P - 1) / P of the buffer in all, whatever P is.
// Preconditions: MPI is started (an MpiCommunicator exists); every rank of `comm` calls it with
// the same count. Leaves out: other dtypes and ops than a float32 sum, overlapping the steps.
#pragma once

#include <mpi.h>

#include <cstdint>

namespace loom::nn::distributed {

// data[0, count) := the sum over every rank of comm of its data[0, count), in place.
void ring_all_reduce(float* data, int64_t count, MPI_Comm comm);

}  // namespace loom::nn::distributed
