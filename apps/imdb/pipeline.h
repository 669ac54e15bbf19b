// apps/imdb/pipeline.h: what a pipelined `imdb train` (--pipeline-stages S) needs beyond the
// GPipe step itself (TrainingRun::pipeline_step, nn/distributed/pipeline.h): validation through
// the stages, and the stages' parameters and Adam state gathered into one plain checkpoint.
//
//   mpirun -n 4 imdb train --pipeline-stages 2 --micro-batches 4 --lstm-layers 2 ...
//
// Every stage of a replica reads the same rows; only the last stage has logits, so only its
// Scores are filled (the others return empty ones and the job's sums come out right).
// Leaves out: validation micro-batches (a forward without gradients holds one batch at a time).
#pragma once

#include <cstdint>
#include <vector>

#include "apps/imdb/evaluate.h"
#include "apps/imdb/model.h"
#include "apps/imdb/prepare.h"
#include "nn/distributed/communicator.h"
#include "nn/safetensors.h"

namespace loom::imdb {

// score_rows through the pipeline `stages` (rank = stage): in eval mode, without a graph, batch
// by batch. Collective over `stages`; every stage passes the same rows.
Scores score_rows_pipelined(ImdbModel& model, nn::distributed::Communicator& stages,
                            const PreparedData& data, const std::vector<int64_t>& rows,
                            int64_t batch);

// Collective over `stages`: stage 0 returns every stage's state_records() together (what one
// process's ImdbModel would save: a checkpoint a plain run loads); the others return nothing.
std::vector<nn::TensorRecord> gather_stage_records(const ImdbModel& model,
                                                   nn::distributed::Communicator& stages);

}  // namespace loom::imdb
