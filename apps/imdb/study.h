// apps/imdb/study.h: the baseline-vs-optimized ablation, each variant a full train run.
//
// The original study compared a straightforward Keras run with an "optimized" one (prefetching,
// mixed precision) and found 1.55x faster epochs. Here every optimization is switched on alone
// and then all together, on the same data, split, vocabulary and seed:
//   baseline        fp32, batches built inline, composed LSTM (one autograd op per gate)
//   prefetch        + a data::Prefetcher worker builds the next batches during the step
//   fused           + the fused LSTM (one node, hand-written BPTT)
//   fp16            + mixed precision: bf16 on the CPU; cuda_fp16: fp16 with loss scaling
//   all             prefetch + fused + mixed precision
//   cuda_baseline   the baseline on the GPU       (only when a CUDA device is present)
//   cuda_all        all optimizations on the GPU  (only when a CUDA device is present)
// A variant this build or machine cannot run is listed as skipped with the reason (never run as
// something else). Each variant trains into <out>/<variant>/; the report goes to <out>/report/
// (report.h). The data are read and encoded once and shared by all variants.
// Left out: repeating variants over several seeds.
#pragma once

#include <string>
#include <vector>

#include "apps/imdb/config.h"

namespace loom::imdb {

struct Variant {
  std::string name;
  std::string description;
  // Applies the variant's changes to the base config.
  void (*apply)(Config&);
  bool needs_cuda;
};

const std::vector<Variant>& study_variants();

// Empty when `config` can run on this build and machine, else the reason it cannot.
std::string skip_reason(const Variant& v, const Config& config);

// Throws loom::Error for a name that is not a variant's, listing the valid ones.
void check_variant_names(const std::vector<std::string>& names);

}  // namespace loom::imdb
