// nn/distillation.h: the knowledge-distillation loss of Hinton et al. (2015) for one logit.
//
// A binary classifier's single logit z stands for the two-class softmax [0, z], so "softening at
// temperature T" is sigmoid(z / T). With the teacher's logit t, q = sigmoid(t / T) and label y:
//   L = (1 - alpha) BCE(z, y) + alpha T^2 KL(q || sigmoid(z / T))              (mean over rows)
//   dL/dz = (1 - alpha) (sigmoid(z) - y) + alpha T (sigmoid(z / T) - q)          (per row, / N)
// Without the T^2 factor the soft term's gradient would shrink as 1/T^2 (Hinton's reason for
// it), so changing T does not change how much the soft targets weigh against the labels. The KL
// form (cross-entropy minus the teacher's own entropy) has the cross-entropy's gradient but is 0
// when the student matches the teacher. The teacher gets no gradient: its logits are a Tensor.
// Leaves out: several classes (softmax over C logits), feature or attention distillation.
#pragma once

#include "autograd/variable.h"

namespace loom::nn {

struct DistillationOptions {
  double temperature = 2.0;  // T > 0: softens both distributions
  double alpha = 0.5;        // in [0, 1]: the soft targets' weight (0 = the labels alone)
};

// student_logits, teacher_logits, labels: the same shape and float dtype -> 0-d mean loss.
Variable distillation_loss(const Variable& student_logits, const Tensor& teacher_logits,
                           const Tensor& labels, const DistillationOptions& options = {});

}  // namespace loom::nn
