// nn/distributed/pipeline.cpp: the GPipe schedule and the process grid (see pipeline.h).
#include "nn/distributed/pipeline.h"

#include <vector>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace loom::nn::distributed {
namespace {

// Messages between two stages arrive in the order sent; the tag only labels them (m mod 2^15).
int tag_of(int64_t micro_batch) {
  return static_cast<int>(micro_batch % 32768);
}

}  // namespace

void gpipe_step(Communicator& stages, int64_t micro_batches, const PipelineStage& stage) {
  LOOM_CHECK(micro_batches >= 1, "gpipe_step: micro_batches must be >= 1, got ", micro_batches);
  LOOM_CHECK(stage.forward, "gpipe_step: the stage has no forward");
  const int s = stages.rank(), S = stages.world_size();
  const bool first = s == 0, last = s == S - 1;
  LOOM_CHECK(first || stage.input_shape, "gpipe_step: stage ", s, " has no input_shape");
  // Every micro-batch's graph stays alive from its forward to its backward: GPipe's memory cost
  // is M micro-batches of activations per stage.
  std::vector<Variable> inputs(static_cast<size_t>(micro_batches));
  std::vector<Variable> outputs(static_cast<size_t>(micro_batches));

  // Forwards, micro-batch 0 first: receive the activation, run this stage, pass the result on.
  for (int64_t m = 0; m < micro_batches; ++m) {
    Variable& in = inputs[static_cast<size_t>(m)];
    if (!first) {
      const Tensor a =
          empty(stage.input_shape(m), TensorOptions(stage.activation_dtype, stages.device()));
      stages.recv(a, s - 1, tag_of(m));
      in = Variable(a, /*requires_grad=*/true);  // a leaf: backward stops here, in.grad() is
    }                                            // what the previous stage needs
    Variable& out = outputs[static_cast<size_t>(m)];
    out = stage.forward(m, in);
    LOOM_CHECK(out.defined(), "gpipe_step: stage ", s,
               "'s forward returned nothing for "
               "micro-batch ",
               m);
    if (!last) stages.send(out.data().contiguous(), s + 1, tag_of(m));
  }

  // Backwards, last micro-batch first (the last stage has just finished its forward): the loss,
  // or the gradient the next stage sent, through this stage; the input's gradient goes back.
  for (int64_t m = micro_batches - 1; m >= 0; --m) {
    Variable& out = outputs[static_cast<size_t>(m)];
    if (last) {
      out.backward();  // d(scaled loss)/d(parameters) adds into .grad
    } else {
      const Tensor g = empty(out.shape(), TensorOptions(out.dtype(), stages.device()));
      stages.recv(g, s + 1, tag_of(m));
      out.backward(g);
    }
    Variable& in = inputs[static_cast<size_t>(m)];
    if (!first) {
      // A stage whose output does not depend on its input sends zeros (the previous stage
      // still waits for a message).
      const Tensor dx = in.grad().defined() ? in.grad().contiguous() : zeros_like(in.data());
      stages.send(dx, s - 1, tag_of(m));
    }
    out = Variable();  // frees this micro-batch's graph and activations
    in = Variable();
  }
}

double gpipe_bubble_fraction(int stages, int64_t micro_batches) {
  LOOM_CHECK(stages >= 1 && micro_batches >= 1, "gpipe_bubble_fraction: stages (", stages,
             ") and micro_batches (", micro_batches, ") must be >= 1");
  return static_cast<double>(stages - 1) / static_cast<double>(micro_batches + stages - 1);
}

PipelineGrid::PipelineGrid(Communicator& world, int stages) {
  const int n = world.world_size();
  LOOM_CHECK(stages >= 1 && n % stages == 0, "PipelineGrid: ", stages,
             " pipeline stages do not divide the ", n, " processes (world = stages x replicas)");
  num_stages_ = stages;
  num_replicas_ = n / stages;
  stage_ = world.rank() % stages;
  replica_ = world.rank() / stages;
  // A group that is the whole world or a single process needs no split (and NCCL has none).
  if (num_replicas_ == 1) {
    stages_ = &world;
    own_replicas_ = std::make_unique<SingleProcessCommunicator>();
  } else if (num_stages_ == 1) {
    replicas_ = &world;
    own_stages_ = std::make_unique<SingleProcessCommunicator>();
  } else {
    own_stages_ = world.split(/*color=*/replica_, /*key=*/stage_);
    own_replicas_ = world.split(/*color=*/stage_, /*key=*/replica_);
  }
  if (own_stages_) stages_ = own_stages_.get();
  if (own_replicas_) replicas_ = own_replicas_.get();
}

}  // namespace loom::nn::distributed
