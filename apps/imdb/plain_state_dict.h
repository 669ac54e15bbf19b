// apps/imdb/plain_state_dict.h: eval and predict on a plain PyTorch-style state_dict saved as
// safetensors (the model's tensors alone, no imdb metadata), as well as on app checkpoints.
//
// An app checkpoint (checkpoint_format.h) carries its config, vocabulary and training state. A
// plain state_dict carries only tensors named as model.h names them (embedding.weight,
// lstm.weight_ih_l0, ..., linear.bias), so the rest comes from the command line:
//   vocabulary   --vocab FILE (a loom vocab.json, e.g. from `imdb export`): required
//   sizes        vocab, embed, lstm_size, lstm_layers, bidirectional and pooling are read from the
//                tensors' shapes unless --config FILE or a flag sets them
//   the rest     --config FILE (the keys of config.json) and flags such as --max-len; defaults
// Every problem (no --vocab, missing or unexpected tensors, wrong shapes or dtypes) is named in
// one error, so one try shows all that is missing.
// Left out: other vocabulary formats, renaming tensors (e.g. a "model." prefix).
#pragma once

#include <set>
#include <string>

#include "apps/imdb/checkpoint_format.h"
#include "apps/imdb/config.h"

namespace loom::imdb {

// The Config keys a plain state_dict's settings may come from flags or --config for; with an
// app checkpoint, setting any of them is an error (the checkpoint has its own config).
const std::set<std::string>& plain_state_dict_keys();

// True when `file` holds no imdb checkpoint metadata (no "format" key, or a format other than
// loom's, such as the "pt" that safetensors.torch writes).
bool is_plain_state_dict(const nn::SafetensorsContents& file);

// The settings of a plain state_dict: `typed` holds the --config file's and the flags' values and
// `given` their keys; the others are read from the tensors (see above).
Checkpoint checkpoint_from_state_dict(nn::SafetensorsContents file, const std::string& path,
                                      const Config& typed, const std::set<std::string>& given,
                                      const std::string& vocab_file);

// What eval and predict load: an app checkpoint (its --vocab, if given, must match it) or a plain
// state_dict (as above). Errors name `path`.
Checkpoint load_model_file(const std::string& path, const Config& typed,
                           const std::set<std::string>& given, const std::string& vocab_file);

}  // namespace loom::imdb
