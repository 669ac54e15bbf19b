// nn/distributed/ddp.cpp: DistributedDataParallel (see ddp.h): bucketing, the parameter
// broadcast, and the gradient all-reduce over flat buffers.
#include "nn/distributed/ddp.h"

#include <set>

#include "tensor/ops.h"

namespace loom::nn::distributed {
namespace {

int64_t bytes_of(const Variable& p) {
  return p.numel() * static_cast<int64_t>(dtype_size(p.dtype()));
}

int64_t total_numel(const optim::NamedParameters& params, const std::vector<std::size_t>& ids) {
  int64_t n = 0;
  for (std::size_t i : ids)
    n += params[i].second.numel();
  return n;
}

}  // namespace

DistributedDataParallel::DistributedDataParallel(Communicator& comm, const Module& module,
                                                 DdpOptions options)
    : DistributedDataParallel(comm, module.named_parameters(), options) {}

DistributedDataParallel::DistributedDataParallel(Communicator& comm, optim::NamedParameters params,
                                                 DdpOptions options)
    : comm_(comm), params_(std::move(params)), options_(options) {
  std::set<std::string> names;
  for (const auto& [name, p] : params_) {
    LOOM_CHECK(p.defined(), "DistributedDataParallel: parameter '", name, "' is undefined");
    LOOM_CHECK(names.insert(name).second, "DistributedDataParallel: parameter name '", name,
               "' appears twice");
    LOOM_CHECK(p.dtype() == DType::Float32 || p.dtype() == DType::Float64,
               "DistributedDataParallel: parameter '", name, "' ", shape_str(p.shape()),
               " has dtype ", dtype_name(p.dtype()),
               "; expected float32 or float64 (keep "
               "fp32 master weights under mixed precision)");
    // One process: collectives are the identity on any device.
    LOOM_CHECK(comm_.world_size() == 1 || p.device() == comm_.device(),
               "DistributedDataParallel: parameter '", name, "' ", shape_str(p.shape()), " is on ",
               p.device().str(), " but the ", comm_.backend_name(), " communicator works on ",
               comm_.device().str(), " (move the model first)");
  }
  // Buckets in parameter order; a new one when the dtype changes or the size limit is reached.
  int64_t bucket_bytes = 0;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Variable& p = params_[i].second;
    const bool full =
        options_.bucket_bytes_ > 0 && bucket_bytes + bytes_of(p) > options_.bucket_bytes_;
    if (buckets_.empty() || full || params_[buckets_.back().front()].second.dtype() != p.dtype()) {
      buckets_.emplace_back();
      bucket_bytes = 0;
    }
    buckets_.back().push_back(i);
    bucket_bytes += bytes_of(p);
  }
  if (options_.broadcast_parameters_) broadcast_parameters(0);
}

void DistributedDataParallel::broadcast_parameters(int root) {
  if (comm_.world_size() == 1) return;
  for (const auto& bucket : buckets_) {
    const Variable& first = params_[bucket.front()].second;
    // Packed into one buffer: one broadcast per bucket, not one per tensor.
    Tensor flat =
        empty({total_numel(params_, bucket)}, TensorOptions(first.dtype(), first.device()));
    int64_t offset = 0;
    for (std::size_t i : bucket) {
      const Tensor& value = params_[i].second.data();
      flat.narrow(0, offset, value.numel()).copy_(value.reshape({-1}));
      offset += value.numel();
    }
    comm_.broadcast(flat, root);
    if (comm_.rank() == root) continue;
    offset = 0;
    for (std::size_t i : bucket) {
      const Tensor& value = params_[i].second.data();
      value.copy_(flat.narrow(0, offset, value.numel()).view(value.shape()));
      offset += value.numel();
    }
  }
}

void DistributedDataParallel::all_reduce_gradients() {
  if (comm_.world_size() == 1) return;
  const double world = static_cast<double>(comm_.world_size());
  for (const auto& bucket : buckets_) {
    const Variable& first = params_[bucket.front()].second;
    const int64_t n = total_numel(params_, bucket);
    const int64_t k = static_cast<int64_t>(bucket.size());
    // [n gradient values | k "this rank has a gradient" flags]; zeros stand for missing grads.
    Tensor flat = zeros({n + k}, TensorOptions(first.dtype(), first.device()));
    int64_t offset = 0;
    for (int64_t j = 0; j < k; ++j) {
      const auto& [name, p] = params_[bucket[static_cast<std::size_t>(j)]];
      const Tensor& g = p.grad();
      if (g.defined()) {
        LOOM_CHECK(g.numel() == p.numel(), "DistributedDataParallel: the gradient of '", name,
                   "' has shape ", shape_str(g.shape()), " but the parameter ",
                   shape_str(p.shape()));
        flat.narrow(0, offset, p.numel()).copy_(g.reshape({-1}));
        flat.narrow(0, n + j, 1).fill_(1.0);
      }
      offset += p.numel();
    }
    comm_.all_reduce_sum(flat);
    // How many ranks had each gradient (exact small integers in float32/float64).
    const std::vector<double> had = flat.narrow(0, n, k).to_vector<double>();
    const Tensor mean = div(flat.narrow(0, 0, n), world);  // one division for the whole bucket
    offset = 0;
    for (int64_t j = 0; j < k; ++j) {
      const Variable& p = params_[bucket[static_cast<std::size_t>(j)]].second;
      const Tensor slot = mean.narrow(0, offset, p.numel()).view(p.shape());
      offset += p.numel();
      if (had[static_cast<std::size_t>(j)] == 0) continue;  // no rank had one: stays undefined
      if (p.grad().defined()) {
        p.grad().copy_(slot);
      } else {
        p.set_grad(slot.clone());  // own storage, not a view into `mean`
      }
    }
  }
}

}  // namespace loom::nn::distributed
