// tests/fuzz/fuzz_checkpoint.cpp: libFuzzer target for what `imdb eval` and `--resume` read from
// a checkpoint: the safetensors container (nn/safetensors.h) and the imdb metadata on top of it
// (apps/imdb/checkpoint_format.h: config, vocabulary, train state, finite weights).
// Each input is read twice: whole, as a safetensors file; and split at NUL bytes into the
// config, vocab and train_state strings of a checkpoint with no tensors, so mutations reach the
// metadata parsers without having to keep a safetensors header length consistent.
// Any input either reads cleanly or throws loom::Error: any other exception escapes and libFuzzer
// reports it, as it reports crashes, leaks and sanitizer findings.
#include <cstdint>
#include <string>
#include <vector>

#include "apps/imdb/checkpoint_format.h"
#include "nn/safetensors.h"
#include "tensor/error.h"

namespace {

void read_file(const uint8_t* data, size_t size) {
  try {
    const std::vector<uint8_t> bytes(data, data + size);
    loom::imdb::checkpoint_from_contents(loom::nn::decode_safetensors(bytes, "fuzz.safetensors"),
                                         "fuzz.safetensors");
  } catch (const loom::Error&) {
  }
}

void read_metadata(const uint8_t* data, size_t size) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < size && parts.size() <= 3; ++i) {
    if (data[i] == 0)
      parts.emplace_back();
    else
      parts.back().push_back(static_cast<char>(data[i]));
  }
  parts.resize(3);
  loom::nn::SafetensorsContents file;
  file.metadata = {{"format", "loom-imdb-checkpoint/1"},
                   {"config", parts[0]},
                   {"vocab", parts[1]},
                   {"train_state", parts[2]}};
  try {
    loom::imdb::checkpoint_from_contents(std::move(file), "fuzz metadata");
  } catch (const loom::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  read_file(data, size);
  read_metadata(data, size);
  return 0;
}
