// apps/imdb/plain_state_dict.cpp: see plain_state_dict.h.
#include "apps/imdb/plain_state_dict.h"

#include <cstdio>
#include <filesystem>
#include <vector>

#include "apps/imdb/model.h"
#include "tensor/error.h"

namespace loom::imdb {
namespace {

constexpr const char* kCheckpointFormatPrefix = "loom-imdb-checkpoint/";

// Sets the sizes the tensors show into `c`, except for the keys the user gave; a size whose
// tensor is missing keeps the typed or default value (and the missing tensor is reported).
void read_sizes_from_tensors(const nn::SafetensorsContents& f, const std::set<std::string>& given,
                             Config& c) {
  auto set = [&](const char* key, auto& field, auto value) {
    if (given.count(key) == 0) field = value;
  };
  if (const nn::TensorRecord* e = f.find("embedding.weight"); e && e->shape.size() == 2) {
    set("vocab", c.vocab, e->shape[0]);
    set("embed", c.embed, e->shape[1]);
  }
  if (const nn::TensorRecord* h = f.find("lstm.weight_hh_l0"); h && h->shape.size() == 2)
    set("lstm_size", c.lstm_size, h->shape[1]);
  int64_t layers = 0;
  while (f.find("lstm.weight_ih_l" + std::to_string(layers)) != nullptr)
    ++layers;
  if (layers > 0) {
    set("lstm_layers", c.lstm_layers, layers);
    set("bidirectional", c.bidirectional, f.find("lstm.weight_ih_l0_reverse") != nullptr);
  }
  // The n-gram bag: vocab + buckets rows of ngram_dim (ngrams.h).
  if (const nn::TensorRecord* g = f.find("ngram_embedding.weight"); g && g->shape.size() == 2) {
    set("ngram_buckets", c.ngram_buckets, g->shape[0] - c.vocab);
    set("ngram_dim", c.ngram_dim, g->shape[1]);
  }
  // The head reads H (last) or 2H (max-mean) features per direction, then the bag's.
  if (const nn::TensorRecord* l = f.find("linear.weight"); l && l->shape.size() == 2) {
    const int64_t per_pooling = (c.bidirectional ? 2 : 1) * c.lstm_size;
    const int64_t bag = c.ngram_buckets > 0 ? c.ngram_dim : 0;
    if (l->shape[1] - bag == per_pooling) set("pooling", c.pooling, std::string("last"));
    if (l->shape[1] - bag == 2 * per_pooling) set("pooling", c.pooling, std::string("max-mean"));
  }
}

// Every difference between the file's tensors and the model `c` describes, one line each.
std::vector<std::string> tensor_problems(const nn::SafetensorsContents& f, const Config& c) {
  std::vector<std::string> problems;
  Config cpu = c;
  cpu.device = "cpu";
  const ImdbModel model(cpu, Device("cpu"));  // only its parameters' names and shapes
  std::set<std::string> expected;
  for (const auto& [name, v] : model.named_parameters()) {
    expected.insert(name);
    const nn::TensorRecord* r = f.find(name);
    if (r == nullptr) {
      problems.push_back("tensor '" + name + "' " + shape_str(v.shape()) + " is missing");
    } else if (r->shape != v.shape() || r->dtype != v.dtype()) {
      problems.push_back("tensor '" + name + "' is " + shape_str(r->shape) + " " +
                         dtype_name(r->dtype) + " but the model needs " + shape_str(v.shape()) +
                         " " + dtype_name(v.dtype()));
    }
  }
  for (const nn::TensorRecord& r : f.tensors)
    if (expected.count(r.name) == 0)
      problems.push_back("tensor '" + r.name + "' is not part of the model");
  return problems;
}

void check_vocab_matches(const std::string& file, const Checkpoint& ck, const std::string& path) {
  if (file.empty()) return;
  const data::Vocabulary v = data::Vocabulary::load(file);
  LOOM_CHECK(v.num_words() == ck.vocab.num_words(), "--vocab: '", file, "' has ", v.num_words(),
             " ids but checkpoint '", path, "' was trained with ", ck.vocab.num_words());
  const auto& a = v.words();
  const auto& b = ck.vocab.words();
  LOOM_CHECK(a.size() == b.size(), "--vocab: '", file, "' has ", a.size(),
             " words but checkpoint '", path, "' has ", b.size());
  for (size_t i = 0; i < a.size(); ++i)
    LOOM_CHECK(a[i] == b[i], "--vocab: '", file, "' does not match checkpoint '", path, "': id ",
               i + static_cast<size_t>(v.first_word_id()), " is '", a[i], "' there but '", b[i],
               "' in the checkpoint");
}

}  // namespace

const std::set<std::string>& plain_state_dict_keys() {
  static const std::set<std::string> keys = {"vocab",       "max_len",       "embed",  "lstm_size",
                                             "lstm_layers", "bidirectional", "pooling"};
  return keys;
}

bool is_plain_state_dict(const nn::SafetensorsContents& file) {
  const auto it = file.metadata.find("format");
  return it == file.metadata.end() || it->second.rfind(kCheckpointFormatPrefix, 0) != 0;
}

Checkpoint checkpoint_from_state_dict(nn::SafetensorsContents file, const std::string& path,
                                      const Config& typed, const std::set<std::string>& given,
                                      const std::string& vocab_file) {
  Checkpoint ck;
  ck.plain = true;
  ck.config = typed;
  read_sizes_from_tensors(file, given, ck.config);
  std::vector<std::string> problems;
  if (vocab_file.empty()) {
    problems.push_back(
        "no --vocab FILE: a plain state_dict carries no vocabulary (pass the vocab.json the "
        "model was trained with; `imdb export` writes one)");
  } else {
    try {
      ck.vocab = data::Vocabulary::load(vocab_file);
      if (ck.vocab.num_words() != ck.config.vocab)
        problems.push_back("--vocab '" + vocab_file + "' has " +
                           std::to_string(ck.vocab.num_words()) + " ids but the model has " +
                           std::to_string(ck.config.vocab) + " (embedding.weight's rows)");
    } catch (const Error& e) {
      problems.push_back(e.what());
    }
  }
  try {
    validate(ck.config);
    const std::vector<std::string> more = tensor_problems(file, ck.config);
    problems.insert(problems.end(), more.begin(), more.end());
  } catch (const Error& e) {
    problems.push_back(e.what());
  }
  const std::string bad = describe_non_finite(file.tensors);
  if (!bad.empty()) problems.push_back(bad);
  std::string list;
  for (const std::string& p : problems)
    list += "\n  - " + p;
  LOOM_CHECK(problems.empty(), "'", path,
             "' is not an imdb checkpoint (no imdb metadata), so it is read as a plain "
             "state_dict; ",
             problems.size(), " problem", problems.size() == 1 ? "" : "s", ":", list);
  ck.file = std::move(file);
  return ck;
}

Checkpoint load_model_file(const std::string& path, const Config& typed,
                           const std::set<std::string>& given, const std::string& vocab_file) {
  LOOM_CHECK(std::filesystem::exists(path), "--checkpoint: '", path, "' does not exist");
  nn::SafetensorsContents file = nn::load_safetensors(path);
  if (is_plain_state_dict(file)) {
    Checkpoint ck = checkpoint_from_state_dict(std::move(file), path, typed, given, vocab_file);
    const Config& c = ck.config;
    std::fprintf(stderr,
                 "note: '%s' is a plain state_dict: vocab %lld, embed %lld, lstm_size %lld, "
                 "lstm_layers %lld%s, pooling %s%s, max_len %lld%s\n",
                 path.c_str(), static_cast<long long>(c.vocab), static_cast<long long>(c.embed),
                 static_cast<long long>(c.lstm_size), static_cast<long long>(c.lstm_layers),
                 c.bidirectional ? ", bidirectional" : "", c.pooling.c_str(),
                 c.ngram_buckets > 0 ? (", n-gram bag " + std::to_string(c.ngram_buckets) +
                                        " buckets x " + std::to_string(c.ngram_dim))
                                           .c_str()
                                     : "",
                 static_cast<long long>(c.max_len),
                 given.count("max_len") ? "" : " (the default: set --max-len to the model's)");
    return ck;
  }
  for (const std::string& key : plain_state_dict_keys())
    LOOM_CHECK(given.count(key) == 0, flag_for(key), " (or \"", key,
               "\" in --config) describes a plain state_dict, but '", path,
               "' is an imdb checkpoint with its own config: leave it out");
  Checkpoint ck = checkpoint_from_contents(std::move(file), path);
  check_vocab_matches(vocab_file, ck, path);
  return ck;
}

}  // namespace loom::imdb
