// apps/imdb/prune.h: gradual magnitude pruning with fine-tuning (`imdb prune`).
//
// Zhu & Gupta (2017): sparsity rises from 0 to the target S along a cubic, s_t = S (1 - (1 -
// t/n)^3) over the first n = 3/4 of the fine-tuning steps, and is held at S for the last quarter;
// masks are recomputed 10 times on the way and re-applied after every optimizer step (Adam would
// regrow pruned weights otherwise). With 0 fine-tuning epochs the target is applied at once.
//   unstructured  per matrix (every LSTM weight matrix and the head's weight), the fraction S of
//                 smallest |w| is zeroed. The matrices keep their shape: dense GEMMs do the same
//                 work, so this saves nothing unless a sparse kernel is used (loom has none).
//   structured    whole LSTM hidden units go, the fraction S with the smallest L2 norm of every
//                 weight that feeds or reads them; at the end they are removed: W_ih and W_hh lose
//                 4 rows each (one per gate), W_hh a column, the biases 4 entries, the head its
//                 column(s). The result is a smaller model (lstm_size shrinks), really faster.
// Preconditions for structured: one LSTM layer, one direction (either pooling).
// Leaves out: pruning the embedding, several layers or directions structurally, sparse kernels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/imdb/config.h"
#include "nn/module.h"

namespace loom::imdb {

// s_t = S (1 - (1 - t / end)^3) for 0 <= t <= end, S afterwards (end <= 0: S at once).
double cubic_sparsity(double final_sparsity, int64_t step, int64_t end_step);

// The parameters unstructured pruning thins: "lstm.weight_*" and "linear.weight".
bool is_prunable_weight(const std::string& name);

// 0 for the round(sparsity * numel) entries of `w` with the smallest |w|, 1 elsewhere.
Tensor magnitude_mask(const Tensor& w, double sparsity);

// Per hidden unit k: the L2 norm of its four gate rows in W_ih, W_hh and both biases, W_hh's
// column k and the head's column(s) for k. `params`: the model's, on any device.
std::vector<double> hidden_unit_norms(const nn::StateDict& params, const Config& c);

// Masks (by parameter name) that zero every weight feeding or read from the units in `removed`.
nn::StateDict hidden_unit_masks(const nn::StateDict& params, const Config& c,
                                const std::vector<int64_t>& removed);

// The parameters of the same model with only the hidden units `kept` (ascending), for a Config
// whose lstm_size is kept.size(). Exact when the other units' outgoing weights are zero.
nn::StateDict remove_hidden_units(const nn::StateDict& params, const Config& c,
                                  const std::vector<int64_t>& kept);

}  // namespace loom::imdb
