// apps/imdb/graphed_step.h: `imdb train --cuda-graph`: the training step captured once into a
// CUDA Graph (cuda/runtime/graph.h) and replayed for every later batch: one launch instead of
// the step's hundreds, and no host synchronisation inside it (docs/labs/08-cuda.md, 7b).
//
//   GraphedStep graph(model, [&] { return std::pair{tokens_in, labels_in}; }, log);
//   tokens_in.copy_(batch_tokens); labels_in.copy_(batch_labels);   // refill, outside the graph
//   const GraphedStep::Outputs out = graph.run();    // the first call captures, every call replays
//
// The captured step is zero_grad(set_to_none), inputs(), forward, loss, backward and
// ImdbModel::step; run one eager step before the first run() (cuBLAS's handle, Adam's state, a
// warm allocator). A graph repeats what the host decided while capturing, so config.cpp refuses
// --cuda-graph with dropout, fp16 and --clip-norm, and the trainer with several processes.
// Throws loom::Error saying why when there is no CUDA device, or when the capture fails.
// Leaves out: re-capturing (the batch shape never changes: the trainer drops the last batch).
#pragma once

#include <cstdio>
#include <functional>
#include <utility>

#include "apps/imdb/model.h"
#include "cuda/runtime/graph.h"
#include "tensor/tensor.h"

namespace loom::imdb {

class GraphedStep {
 public:
  // Called inside the capture: the step's tokens [B, T] Int32 and labels [B, 1] Float32 on the
  // device, computed from tensors that keep their addresses (the caller refills them in place).
  using Inputs = std::function<std::pair<Tensor, Tensor>()>;
  // The captured step's results on the device; every replay rewrites them in place.
  struct Outputs {
    Tensor loss;    // 0-d Float32, the batch's mean loss
    Tensor logits;  // [B, 1]
    Tensor labels;  // [B, 1], the inputs' labels
  };

  GraphedStep(ImdbModel& model, Inputs inputs, std::FILE* log);
  Outputs run();

 private:
  ImdbModel& model_;
  Inputs inputs_;
  std::FILE* log_;
  cuda::CudaGraph graph_;
  Outputs out_;
};

}  // namespace loom::imdb
