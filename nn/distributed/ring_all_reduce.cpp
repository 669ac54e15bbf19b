// nn/distributed/ring_all_reduce.cpp: the ring all-reduce on MPI_Sendrecv (lab 09).
#include "nn/distributed/ring_all_reduce.h"

#include <algorithm>
#include <string>
#include <vector>

#include "tensor/error.h"

namespace loom::nn::distributed {
namespace {

void check_mpi(int code, const char* call) {
  LOOM_CHECK(code == MPI_SUCCESS, "ring_all_reduce: ", call, " failed (MPI error ", code, ")");
}

// Chunk c of a buffer of `count` floats cut into p chunks: [begin, end). The first count % p
// chunks are one element longer, so every element is in exactly one chunk.
int64_t chunk_begin(int64_t count, int p, int c) {
  const int64_t base = count / p, extra = count % p;
  return c * base + std::min<int64_t>(c, extra);
}

}  // namespace

void ring_all_reduce(float* data, int64_t count, MPI_Comm comm) {
  LOOM_CHECK(count >= 0, "ring_all_reduce: count ", count, " is negative");
  LOOM_CHECK(count == 0 || data != nullptr, "ring_all_reduce: data is null for count ", count);
  int rank = 0, p = 1;
  check_mpi(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm, &p), "MPI_Comm_size");
  // BEGIN LAB 09 TASK 1 uses(data, count, rank, p, chunk_begin)
  const int right = (rank + 1) % p, left = (rank + p - 1) % p;
  std::vector<float> incoming(static_cast<size_t>(count / p + 1));
  // Step s sends chunk `send` to the right and receives chunk `recv` from the left; the tag is
  // the step, so a message can never be taken for another step's.
  auto exchange = [&](int s, int send, int recv) {
    const int64_t sb = chunk_begin(count, p, send), se = chunk_begin(count, p, send + 1);
    const int64_t rb = chunk_begin(count, p, recv), re = chunk_begin(count, p, recv + 1);
    check_mpi(
        MPI_Sendrecv(data + sb, static_cast<int>(se - sb), MPI_FLOAT, right, s, incoming.data(),
                     static_cast<int>(re - rb), MPI_FLOAT, left, s, comm, MPI_STATUS_IGNORE),
        "MPI_Sendrecv");
    return rb;
  };
  // Reduce-scatter: after step s, chunk (rank - s - 1) holds the sum of s + 2 ranks' values;
  // after P - 1 steps, chunk (rank + 1) mod P holds everyone's.
  for (int s = 0; s < p - 1; ++s) {
    const int send = (rank - s + p) % p, recv = (rank - s - 1 + p) % p;
    const int64_t rb = exchange(s, send, recv), re = chunk_begin(count, p, recv + 1);
    for (int64_t i = rb; i < re; ++i)
      data[i] += incoming[static_cast<size_t>(i - rb)];
  }
  // All-gather: pass the summed chunks around the ring, copying instead of adding.
  for (int s = 0; s < p - 1; ++s) {
    const int send = (rank + 1 - s + p) % p, recv = (rank - s + p) % p;
    const int64_t rb = exchange(p - 1 + s, send, recv), re = chunk_begin(count, p, recv + 1);
    for (int64_t i = rb; i < re; ++i)
      data[i] = incoming[static_cast<size_t>(i - rb)];
  }
  // END LAB 09 TASK 1
}

}  // namespace loom::nn::distributed
