// apps/imdb/checkpoint_format.cpp: see checkpoint_format.h.
#include "apps/imdb/checkpoint_format.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <type_traits>

#include "tensor/error.h"

namespace loom::imdb {
namespace {

constexpr const char* kFormat = "loom-imdb-checkpoint/1";

// j[key] as T, or a loom::Error naming `what` and the key: integers must be non-negative (every
// count of a TrainState is), floating-point numbers finite (JSON has no NaN; a null there is a
// NaN that was written).
template <typename T>
T read_field(const nlohmann::json& j, const char* key, const std::string& what) {
  const auto it = j.find(key);
  LOOM_CHECK(it != j.end(), what, " has no \"", key, "\"");
  bool ok = false;
  if constexpr (std::is_same_v<T, bool>) {
    ok = it->is_boolean();
  } else if constexpr (std::is_floating_point_v<T>) {
    ok = it->is_number() && std::isfinite(it->template get<double>());
  } else {
    // Parsed JSON holds non-negative integers as unsigned, built JSON as signed.
    const bool non_negative =
        it->is_number_unsigned() || (it->is_number_integer() && it->template get<int64_t>() >= 0);
    ok = non_negative &&
         it->template get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
  }
  LOOM_CHECK(ok, what, ": \"", key, "\" is ", it->dump(), ", not a ",
             std::is_same_v<T, bool>       ? "boolean"
             : std::is_floating_point_v<T> ? "finite number"
                                           : "non-negative integer");
  return it->template get<T>();
}

// A uint64 written as a decimal string (JSON readers elsewhere may hold numbers in doubles).
uint64_t read_uint64_string(const nlohmann::json& j, const char* key, const std::string& what) {
  const auto it = j.find(key);
  LOOM_CHECK(it != j.end(), what, " has no \"", key, "\"");
  const std::string* s = it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
  uint64_t v = 0;
  const auto [end, err] = s != nullptr
                              ? std::from_chars(s->data(), s->data() + s->size(), v)
                              : std::from_chars_result{nullptr, std::errc::invalid_argument};
  LOOM_CHECK(s != nullptr && !s->empty() && err == std::errc() && end == s->data() + s->size(),
             what, ": \"", key, "\" is ", it->dump(),
             ", not an unsigned 64-bit integer written as a decimal string");
  return v;
}

nlohmann::json vocab_to_json(const data::Vocabulary& v) {
  return {{"num_words", v.num_words()},
          {"oov", v.oov() == data::OovPolicy::Unk ? "unk" : "drop"},
          {"words", v.words()},
          {"counts", v.counts()}};
}

data::Vocabulary vocab_from_json(const nlohmann::json& j, const std::string& source) {
  const std::string what = source + ": the vocabulary in the checkpoint metadata";
  LOOM_CHECK(j.is_object(), what, " is not a JSON object");
  data::VocabOptions o;
  o.num_words = read_field<int32_t>(j, "num_words", what);
  const auto oov = j.find("oov");
  LOOM_CHECK(oov != j.end() && (*oov == "unk" || *oov == "drop"), what,
             ": \"oov\" must be \"unk\" or \"drop\"");
  o.oov = *oov == "unk" ? data::OovPolicy::Unk : data::OovPolicy::Drop;
  const auto words = j.find("words"), counts = j.find("counts");
  LOOM_CHECK(words != j.end() && words->is_array() && counts != j.end() && counts->is_array(), what,
             ": \"words\" and \"counts\" must be arrays");
  std::vector<std::string> w;
  for (const nlohmann::json& e : *words) {
    LOOM_CHECK(e.is_string(), what, ": a word is ", e.dump(), ", not a string");
    w.push_back(e.get<std::string>());
  }
  std::vector<int64_t> c;
  for (const nlohmann::json& e : *counts) {
    LOOM_CHECK(e.is_number_integer(), what, ": a count is ", e.dump(), ", not an integer");
    c.push_back(e.get<int64_t>());
  }
  try {
    return data::Vocabulary::from_words(w, o, std::move(c));
  } catch (const Error& e) {
    LOOM_FAIL(what, ": ", e.what());
  }
}

// Counts the values of a floating-point record that are NaN or inf (exponent bits all ones).
template <typename Bits>
int64_t count_non_finite(const nn::TensorRecord& r, Bits exponent_mask) {
  int64_t bad = 0;
  for (size_t at = 0; at + sizeof(Bits) <= r.bytes.size(); at += sizeof(Bits)) {
    Bits bits;
    std::memcpy(&bits, r.bytes.data() + at, sizeof(Bits));
    bad += (bits & exponent_mask) == exponent_mask;
  }
  return bad;
}

}  // namespace

nlohmann::json to_json(const TrainState& s) {
  return {{"epoch", s.epoch},
          {"step_in_epoch", s.step_in_epoch},
          {"global_step", s.global_step},
          {"loss_sum", s.loss_sum},
          {"correct", s.correct},
          {"seen", s.seen},
          {"data_time", s.data_time},
          {"wait_time", s.wait_time},
          {"train_time", s.train_time},
          // JSON has no infinity: "no best yet" is written as null
          {"best_val_loss", std::isfinite(s.best_val_loss) ? nlohmann::json(s.best_val_loss)
                                                           : nlohmann::json(nullptr)},
          {"best_epoch", s.best_epoch},
          {"bad_epochs", s.bad_epochs},
          {"finished", s.finished},
          // uint64 as strings: JSON readers elsewhere may hold numbers in doubles
          {"rng_seed", std::to_string(s.rng_seed)},
          {"rng_offset", std::to_string(s.rng_offset)}};
}

TrainState train_state_from_json(const nlohmann::json& j, const std::string& source) {
  const std::string what = source + ": train_state in the checkpoint metadata";
  LOOM_CHECK(j.is_object(), what, " is not a JSON object");
  TrainState s;
  s.epoch = read_field<int64_t>(j, "epoch", what);
  s.step_in_epoch = read_field<int64_t>(j, "step_in_epoch", what);
  s.global_step = read_field<int64_t>(j, "global_step", what);
  s.loss_sum = read_field<double>(j, "loss_sum", what);
  s.correct = read_field<double>(j, "correct", what);
  s.seen = read_field<double>(j, "seen", what);
  s.data_time = read_field<double>(j, "data_time", what);
  s.wait_time = read_field<double>(j, "wait_time", what);
  s.train_time = read_field<double>(j, "train_time", what);
  if (!j.contains("best_val_loss") || !j["best_val_loss"].is_null())
    s.best_val_loss = read_field<double>(j, "best_val_loss", what);
  s.best_epoch = read_field<int64_t>(j, "best_epoch", what);
  s.bad_epochs = read_field<int64_t>(j, "bad_epochs", what);
  s.finished = read_field<bool>(j, "finished", what);
  s.rng_seed = read_uint64_string(j, "rng_seed", what);
  s.rng_offset = read_uint64_string(j, "rng_offset", what);
  return s;
}

std::map<std::string, std::string> checkpoint_metadata(const Config& config,
                                                       const data::Vocabulary& vocab,
                                                       const TrainState& state) {
  return {{"format", kFormat},
          {"config", to_json(config).dump()},
          {"vocab", vocab_to_json(vocab).dump()},
          {"train_state", to_json(state).dump()}};
}

Checkpoint checkpoint_from_contents(nn::SafetensorsContents file, const std::string& path) {
  Checkpoint c;
  c.file = std::move(file);
  const auto& meta = c.file.metadata;
  // Every missing key at once, so one try shows all that a hand-made file lacks.
  std::string missing;
  for (const char* key : {"format", "config", "vocab", "train_state"})
    if (meta.count(key) == 0) missing += std::string(missing.empty() ? "" : ", ") + key;
  LOOM_CHECK(missing.empty(), path, ": not an imdb checkpoint (its metadata lacks ", missing,
             "; apps/imdb/README.md describes the format)");
  auto field = [&](const char* key) -> const std::string& { return meta.at(key); };
  LOOM_CHECK(field("format") == kFormat, path, ": unsupported checkpoint format '", field("format"),
             "' (expected ", kFormat, ")");
  auto parse = [&](const char* key) {
    try {
      return nlohmann::json::parse(field(key));
    } catch (const nlohmann::json::exception& e) {
      LOOM_FAIL(path, ": corrupt checkpoint metadata: \"", key, "\" is not valid JSON (", e.what(),
                ")");
    }
  };
  const nlohmann::json config = parse("config");
  // Checkpoints written before --stopwords existed cleaned their text with the stopwords kept.
  if (config.is_object() && !config.contains("stopwords")) c.config.stopwords = "keep";
  merge_json(c.config, config, path + " (config)");
  validate(c.config);
  c.vocab = vocab_from_json(parse("vocab"), path);
  c.state = train_state_from_json(parse("train_state"), path);
  LOOM_CHECK(c.vocab.num_words() == c.config.vocab, path, ": vocabulary has ", c.vocab.num_words(),
             " ids but the config says vocab ", c.config.vocab);
  const std::string bad = describe_non_finite(c.file.tensors);
  LOOM_CHECK(bad.empty(), path, ": ", bad,
             ": the run that wrote it diverged; use one of its earlier epoch_NNN.safetensors");
  return c;
}

Checkpoint load_checkpoint(const std::string& path) {
  LOOM_CHECK(std::filesystem::exists(path), "--checkpoint: '", path, "' does not exist");
  return checkpoint_from_contents(nn::load_safetensors(path), path);
}

std::string describe_non_finite(const std::vector<nn::TensorRecord>& records) {
  for (const nn::TensorRecord& r : records) {
    int64_t bad = 0;
    if (r.dtype == DType::Float32) bad = count_non_finite<uint32_t>(r, 0x7F800000u);
    if (r.dtype == DType::Float64) bad = count_non_finite<uint64_t>(r, 0x7FF0000000000000ull);
    if (r.dtype == DType::Float16) bad = count_non_finite<uint16_t>(r, 0x7C00u);
    if (bad > 0) {
      return "tensor '" + r.name + "' holds " + std::to_string(bad) + " NaN or inf values (of " +
             std::to_string(r.bytes.size() / dtype_size(r.dtype)) + ")";
    }
  }
  return "";
}

}  // namespace loom::imdb
