// nn/distributed/ddp.h: DistributedDataParallel, data-parallel training over a Communicator.
//
//   DistributedDataParallel ddp(*comm, model.named_parameters());  // rank 0's weights everywhere
//   for (batch : my_shard) {
//     opt.zero_grad();
//     loss = loss_fn(model.forward(batch.x), batch.y);   // mean over this rank's rows
//     loss.backward();
//     ddp.all_reduce_gradients();                       // now the global-batch gradient
//     opt.step();                                       // or scaler.step(opt) under fp16
//   }
// With equal shards of a mean-reduced loss, the mean over ranks is exactly the gradient of the
// global batch, so every rank's optimizer takes the same step. Gradients travel in flat buckets
// with a "has a gradient" count per parameter, so all ranks decide alike about a parameter some
// rank has no gradient for (docs/labs/09-distributed.md, sections 2 and 4).
// Leaves out: overlapping the all-reduce with backward (lab 09, section 4), buffers (no loom
// layer has any), gradient compression, uneven inputs (ranks run the same number of steps).
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
  // After backward: each .grad = mean over ranks. A missing .grad counts as zeros; if any rank
  // had one, every rank ends with the mean (created where missing); if none did, it stays
  // undefined on every rank.
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
