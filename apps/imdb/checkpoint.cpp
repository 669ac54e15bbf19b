// apps/imdb/checkpoint.cpp: see checkpoint.h.
#include "apps/imdb/checkpoint.h"

#include <cmath>

#include "tensor/error.h"

namespace loom::imdb {

void save_checkpoint(const std::string& path, const Config& config, const data::Vocabulary& vocab,
                     const ImdbModel& model, const TrainState& state) {
  save_checkpoint(path, config, vocab, model.state_records(), state);
}

void save_checkpoint(const std::string& path, const Config& config, const data::Vocabulary& vocab,
                     const std::vector<nn::TensorRecord>& records, const TrainState& state) {
  // The last line of defence: a checkpoint that could not be read back is never written (the
  // trainer stops a diverged run before it gets here, with a better message).
  const std::string bad = describe_non_finite(records);
  LOOM_CHECK(bad.empty(), "refusing to write '", path, "': ", bad);
  for (double sum : {state.loss_sum, state.correct, state.seen})
    LOOM_CHECK(std::isfinite(sum), "refusing to write '", path, "': a running sum is ", sum);
  nn::save_safetensors(path, records, checkpoint_metadata(config, vocab, state));
}

void restore_model(ImdbModel& model, const Checkpoint& checkpoint, const std::string& path,
                   bool with_optimizer) {
  model.load_state(checkpoint.file, path, with_optimizer);
}

}  // namespace loom::imdb
