// apps/imdb/quantize.cpp: the int8 checkpoint (see quantize.h) and the quantize subcommand.
#include "apps/imdb/quantize.h"

#include <cstdio>

#include "apps/imdb/commands.h"
#include "nn/serialize.h"
#include "tensor/error.h"
#include "tensor/quantize.h"

namespace loom::imdb {

std::vector<std::string> int8_weight_names() {
  return {"lstm.weight_ih_l0", "lstm.weight_hh_l0", "linear.weight"};
}

const nn::TensorRecord& find_record(const nn::SafetensorsContents& file, const std::string& name,
                                    const std::string& path) {
  for (const nn::TensorRecord& r : file.tensors)
    if (r.name == name) return r;
  LOOM_FAIL(path, ": no tensor '", name, "' in the checkpoint");
}

std::size_t model_bytes(const nn::SafetensorsContents& file) {
  std::size_t n = 0;
  for (const nn::TensorRecord& t : file.tensors)
    if (t.name.rfind("optim.", 0) != 0 && t.name.rfind("scaler.", 0) != 0) n += t.bytes.size();
  return n;
}

nn::SafetensorsContents quantize_checkpoint(const Checkpoint& ck, const std::string& path) {
  const Config& c = ck.config;
  LOOM_CHECK(c.model == "lstm", path, ": quantize handles the LSTM model; a ", c.model,
             " checkpoint runs in float32");
  LOOM_CHECK(c.lstm_layers == 1 && !c.bidirectional && c.pooling == "last", path,
             ": quantize handles the study's model (one unidirectional LSTM layer, pooling "
             "last); this checkpoint has --lstm-layers ",
             c.lstm_layers, c.bidirectional ? " --bidirectional" : "", " --pooling ", c.pooling);
  LOOM_CHECK(c.ngram_buckets == 0, path,
             ": quantize handles the study's model; this checkpoint has an n-gram bag "
             "(--ngram-buckets ",
             c.ngram_buckets, ")");
  LOOM_CHECK(ck.file.metadata.count(kQuantizationKey) == 0, path, ": is already quantized (",
             ck.file.metadata.at(kQuantizationKey), ")");
  nn::SafetensorsContents out;
  out.metadata = ck.file.metadata;
  out.metadata[kQuantizationKey] = kInt8Dynamic;
  const std::vector<std::string> int8_names = int8_weight_names();
  for (const nn::TensorRecord& r : ck.file.tensors) {
    if (r.name.rfind("optim.", 0) == 0 || r.name.rfind("scaler.", 0) == 0) continue;
    bool is_int8 = false;
    for (const std::string& n : int8_names)
      is_int8 = is_int8 || n == r.name;
    if (!is_int8) {
      out.tensors.push_back(r);
      continue;
    }
    const QuantizedMatrix q = quantize_per_channel(nn::record_to_tensor(r));
    out.tensors.push_back(nn::tensor_to_record(r.name, q.values));
    out.tensors.push_back(nn::tensor_to_record(r.name + ".scale", q.scales));
  }
  for (const std::string& n : int8_names)
    find_record(ck.file, n, path);  // every weight was there
  return out;
}

int run_quantize(const Request& r) {
  const std::string& in = r.quantize.checkpoint;
  prepare_output_file(r.quantize.out, "--out");
  const Checkpoint ck = load_checkpoint(in);
  const nn::SafetensorsContents q = quantize_checkpoint(ck, in);
  nn::save_safetensors(r.quantize.out, q.tensors, q.metadata);
  const std::size_t before = model_bytes(ck.file), after = model_bytes(q);
  std::printf("quantized %s -> %s (int8 weights per output channel: %zu -> %zu bytes of tensors)\n",
              in.c_str(), r.quantize.out.c_str(), before, after);
  return 0;
}

}  // namespace loom::imdb
