// nn/distributed/ddp.h: DistributedDataParallel, data-parallel training over a Communicator.
//
// Every rank holds a full copy of the model and trains on its own shard of each global batch.
// The wrapper keeps the copies identical:
//   1. construction broadcasts every parameter from rank 0, so all ranks start from the same
//      weights whatever their seeds;
//   2. all_reduce_gradients(), called after backward and before the optimizer step, replaces
//      each parameter's .grad by the mean over ranks. With equal shards of a mean-reduced loss
//      that mean is exactly the gradient of the whole global batch (the math is in
//      docs/labs/09-distributed.md), so every rank's optimizer takes the same step.
//
//   DistributedDataParallel ddp(*comm, model.named_parameters());
//   for (batch : my_shard) {
//     opt.zero_grad();
//     loss = loss_fn(model.forward(batch.x), batch.y);   // mean over this rank's rows
//     loss.backward();
//     ddp.all_reduce_gradients();                       // now the global-batch gradient
//     opt.step();                                       // or scaler.step(opt) under fp16
//   }
//
// Buckets: the gradients are packed into flat buffers of at most `bucket_bytes` (a parameter is
// never split; one larger than that gets a bucket of its own) and each bucket is one all-reduce,
// which costs far less than one all-reduce per tensor (each collective pays a latency). Buckets
// hold one dtype; the order is the parameters' order, the same on every rank.
// Parameters without a gradient: every bucket carries, after the gradients, one "has a gradient"
// count per parameter. A parameter with no .grad on some rank contributes zeros there; if at
// least one rank had a gradient, every rank ends with the averaged gradient (created where it was
// missing), so every optimizer steps it; if no rank had one, it stays undefined everywhere and
// every optimizer skips it. Either way all ranks decide alike.
// GradScaler (fp16): an inf/NaN on any rank becomes inf/NaN in the sum and so on every rank
// after averaging; every rank's scaler then skips the same step (tests/distributed checks it).
//
// Not a Module: loom modules have different forward signatures, so the model is called directly
// and only its parameters are wrapped. Leaves out: overlapping the all-reduce with backward
// (PyTorch starts a bucket's all-reduce from an autograd hook as soon as its gradients are
// ready; here the all-reduce runs after backward, see the lab for what that costs), buffers
// (no loom layer has any), gradient compression, uneven inputs (ranks must run the same number
// of steps; DistributedSampler pads the epoch so they do).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "nn/distributed/communicator.h"
#include "nn/module.h"
#include "nn/optim/optimizer.h"

namespace loom::nn::distributed {

struct DdpOptions {
  DdpOptions& bucket_bytes(int64_t v) { return bucket_bytes_ = v, *this; }
  DdpOptions& broadcast_parameters(bool v) { return broadcast_parameters_ = v, *this; }

  int64_t bucket_bytes_ = int64_t{25} << 20;  // 25 MiB (PyTorch's default); <= 0: one bucket
  bool broadcast_parameters_ = true;          // copy rank 0's weights at construction
};

class DistributedDataParallel {
 public:
  // Wraps `params` (handles shared with the model; names only for messages). Every parameter
  // must be float32/float64 on comm.device(); names must be unique. Broadcasts the parameters
  // from rank 0 unless options say not to. Collective: every rank constructs it together.
  DistributedDataParallel(Communicator& comm, optim::NamedParameters params,
                          DdpOptions options = {});
  DistributedDataParallel(Communicator& comm, const Module& module, DdpOptions options = {});

  // Every parameter's value = rank `root`'s value.
  void broadcast_parameters(int root = 0);
  // After backward: each .grad = mean over ranks (see the header comment for missing grads).
  void all_reduce_gradients();

  Communicator& communicator() const { return comm_; }
  const optim::NamedParameters& named_parameters() const { return params_; }
  // How the parameters are bucketed: buckets()[b] lists indices into named_parameters().
  const std::vector<std::vector<std::size_t>>& buckets() const { return buckets_; }

 private:
  Communicator& comm_;
  optim::NamedParameters params_;
  DdpOptions options_;
  std::vector<std::vector<std::size_t>> buckets_;
};

}  // namespace loom::nn::distributed
