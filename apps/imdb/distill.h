// apps/imdb/distill.h: knowledge distillation into a smaller student (`imdb distill`).
//
//   teacher checkpoint --(eval mode, once)--> logits of every training row
//   student = the teacher's config with --lstm-size H (and --max-len L): same vocabulary, same
//             split and seed, so it never validates on a review the teacher trained on
//   loss    = nn::distillation_loss(student logits, teacher logits, labels, T, alpha)
// The teacher runs without dropout, so its logits are the same at every epoch and are computed
// once (with its own --max-len when the student's differs). --alpha 0 trains the same student on
// the labels alone with the same loop, epochs and seed: the comparison distillation needs.
// Leaves out: intermediate-layer (hint) losses, a teacher on another device, data augmentation.
#pragma once

#include <vector>

#include "apps/imdb/model.h"
#include "apps/imdb/prepare.h"

namespace loom::imdb {

// The teacher's logit for every row of `data` listed in `rows`, by row id ([data.rows] floats;
// rows not listed stay 0). Eval mode, no graph.
std::vector<float> teacher_logits(ImdbModel& teacher, const PreparedData& data,
                                  const std::vector<int64_t>& rows, int64_t batch);

}  // namespace loom::imdb
