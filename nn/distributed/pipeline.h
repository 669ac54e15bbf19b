// nn/distributed/pipeline.h: pipeline (model) parallelism: the GPipe schedule of one training
// step over a model cut into stages, one stage per process, and the 2-D grid of processes
// (stages x replicas) that combines it with data parallelism.
//
//   PipelineGrid grid(*world, /*stages=*/2);          // rank = replica * stages + stage
//   gpipe_step(grid.stages(), /*micro_batches=*/4, my_stage);  // all forwards, all backwards
//   ddp.all_reduce_gradients();                       // DDP over grid.replicas(): this stage's
//   opt.step();                                       // copies; each stage steps its own part
//
// The caller says what its stage computes (PipelineStage); gpipe_step moves the activations
// forward and their gradients back between neighbouring stages with send/recv and leaves each
// stage's parameter gradients summed over the micro-batches. When the last stage returns each
// micro-batch's loss scaled by its share of the batch (rows_m / rows), that sum is the gradient
// of the whole batch's mean loss. docs/labs/09-distributed.md, section 11.
// Leaves out: 1F1B and interleaved schedules (less activation memory, the same bubble),
// activation recomputation, overlapping sends with compute, stages that skip a neighbour.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "autograd/variable.h"
#include "nn/distributed/communicator.h"

namespace loom::nn::distributed {

// What one stage computes, for micro-batch m (0 <= m < micro_batches).
struct PipelineStage {
  // The stage's forward. `input` is the activation received from the previous stage, a leaf
  // that requires grad (undefined on the first stage, which reads micro-batch m's data itself).
  // Returns the activation for the next stage or, on the last stage, micro-batch m's loss
  // (one element) scaled by its share of the batch.
  std::function<Variable(int64_t m, const Variable& input)> forward;
  // The shape of the activation this stage receives for micro-batch m (not called on the first
  // stage): the shape the previous stage's forward returns.
  std::function<Shape(int64_t m)> input_shape;
  DType activation_dtype = DType::Float32;
};

// One GPipe training step on stage stages.rank() of stages.world_size(): the forwards of
// micro-batches 0..M-1, then their backwards M-1..0. Collective over `stages`; every stage
// passes the same micro_batches (>= 1). Gradients are added into the parameters' .grad (zero
// them before, step after). With one stage it is plain gradient accumulation.
void gpipe_step(Communicator& stages, int64_t micro_batches, const PipelineStage& stage);

// The bubble: the fraction of a GPipe step each stage sits idle, (S - 1) / (M + S - 1), when
// every stage takes the same time per micro-batch.
double gpipe_bubble_fraction(int stages, int64_t micro_batches);

// world = stages x replicas. Rank r is stage r % stages of replica r / stages: a replica's
// stages are neighbouring ranks (on a cluster, the same node when it has room for them).
class PipelineGrid {
 public:
  // Collective over `world` (which must outlive the grid). Throws naming the sizes unless
  // stages >= 1 divides world.world_size().
  PipelineGrid(Communicator& world, int stages);

  int stage() const { return stage_; }
  int num_stages() const { return num_stages_; }
  int replica() const { return replica_; }
  int num_replicas() const { return num_replicas_; }
  // This replica's pipeline (rank = stage): what gpipe_step sends over.
  Communicator& stages() const { return *stages_; }
  // The copies of this stage, one per replica (rank = replica): where DDP's all-reduce runs.
  Communicator& replicas() const { return *replicas_; }

 private:
  int stage_ = 0, num_stages_ = 1, replica_ = 0, num_replicas_ = 1;
  std::unique_ptr<Communicator> own_stages_, own_replicas_;  // when made by split (or alone)
  Communicator* stages_ = nullptr;
  Communicator* replicas_ = nullptr;
};

}  // namespace loom::nn::distributed
