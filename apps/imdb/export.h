// apps/imdb/export.h: the encoded dataset as safetensors, so another framework trains on exactly
// the same numbers (tests/reference/torch_imdb.py reads it).
//
// <out>/encoded.safetensors holds
//   train.tokens  I32 [n_train, max_len]   ids of the training rows, in split order
//   train.labels  F32 [n_train]
//   val.tokens    I32 [n_val, max_len]
//   val.labels    F32 [n_val]
//   split.train   I64 [n_train]            dataset row of each training row
//   split.val     I64 [n_val]
// and metadata: "config" (the resolved config JSON), "vocab_words" (JSON list in id order),
// "source" (the dataset path). <out>/vocab.json is the vocabulary file predict understands.
// Left out: the raw texts (the reference gets the ids, not the tokenizer).
#pragma once

#include <string>

#include "apps/imdb/config.h"
#include "apps/imdb/prepare.h"

namespace loom::imdb {

// Writes <dir>/encoded.safetensors and <dir>/vocab.json; returns the safetensors path.
std::string export_encoded(const Config& config, const PreparedData& data, const std::string& dir);

}  // namespace loom::imdb
