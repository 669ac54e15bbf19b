// apps/imdb/checkpoint.cpp: see checkpoint.h.
#include "apps/imdb/checkpoint.h"

#include <filesystem>

#include "tensor/error.h"

namespace loom::imdb {
namespace {

constexpr const char* kFormat = "loom-imdb-checkpoint/1";

nlohmann::json vocab_to_json(const data::Vocabulary& v) {
  return {{"num_words", v.num_words()},
          {"oov", v.oov() == data::OovPolicy::Unk ? "unk" : "drop"},
          {"words", v.words()},
          {"counts", v.counts()}};
}

data::Vocabulary vocab_from_json(const nlohmann::json& j) {
  data::VocabOptions o;
  o.num_words = j.at("num_words").get<int32_t>();
  o.oov = j.at("oov").get<std::string>() == "unk" ? data::OovPolicy::Unk : data::OovPolicy::Drop;
  return data::Vocabulary::from_words(j.at("words").get<std::vector<std::string>>(), o,
                                      j.at("counts").get<std::vector<int64_t>>());
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
  try {
    TrainState s;
    s.epoch = j.at("epoch").get<int64_t>();
    s.step_in_epoch = j.at("step_in_epoch").get<int64_t>();
    s.global_step = j.at("global_step").get<int64_t>();
    s.loss_sum = j.at("loss_sum").get<double>();
    s.correct = j.at("correct").get<double>();
    s.seen = j.at("seen").get<double>();
    s.data_time = j.at("data_time").get<double>();
    s.wait_time = j.at("wait_time").get<double>();
    s.train_time = j.at("train_time").get<double>();
    if (!j.at("best_val_loss").is_null()) s.best_val_loss = j["best_val_loss"].get<double>();
    s.best_epoch = j.at("best_epoch").get<int64_t>();
    s.bad_epochs = j.at("bad_epochs").get<int64_t>();
    s.finished = j.at("finished").get<bool>();
    s.rng_seed = std::stoull(j.at("rng_seed").get<std::string>());
    s.rng_offset = std::stoull(j.at("rng_offset").get<std::string>());
    return s;
  } catch (const std::exception& e) {
    LOOM_FAIL(source, ": bad train_state in the checkpoint metadata: ", e.what());
  }
}

void save_checkpoint(const std::string& path, const Config& config, const data::Vocabulary& vocab,
                     const ImdbModel& model, const TrainState& state) {
  const std::map<std::string, std::string> metadata = {{"format", kFormat},
                                                       {"config", to_json(config).dump()},
                                                       {"vocab", vocab_to_json(vocab).dump()},
                                                       {"train_state", to_json(state).dump()}};
  nn::save_safetensors(path, model.state_records(), metadata);
}

Checkpoint load_checkpoint(const std::string& path) {
  LOOM_CHECK(std::filesystem::exists(path), "--checkpoint: '", path, "' does not exist");
  Checkpoint c;
  c.file = nn::load_safetensors(path);  // validates the container; errors name the file
  const auto& meta = c.file.metadata;
  auto field = [&](const char* key) -> const std::string& {
    auto it = meta.find(key);
    LOOM_CHECK(it != meta.end(), path, ": not an imdb checkpoint (no \"", key,
               "\" in its metadata)");
    return it->second;
  };
  LOOM_CHECK(field("format") == kFormat, path, ": unsupported checkpoint format '", field("format"),
             "' (expected ", kFormat, ")");
  try {
    merge_json(c.config, nlohmann::json::parse(field("config")), path + " (config)");
    validate(c.config);
    c.vocab = vocab_from_json(nlohmann::json::parse(field("vocab")));
    c.state = train_state_from_json(nlohmann::json::parse(field("train_state")), path);
  } catch (const nlohmann::json::exception& e) {
    LOOM_FAIL(path, ": corrupt checkpoint metadata: ", e.what());
  }
  LOOM_CHECK(c.vocab.num_words() == c.config.vocab, path, ": vocabulary has ", c.vocab.num_words(),
             " ids but the config says vocab ", c.config.vocab);
  return c;
}

void restore_model(ImdbModel& model, const Checkpoint& checkpoint, const std::string& path,
                   bool with_optimizer) {
  model.load_state(checkpoint.file, path, with_optimizer);
}

}  // namespace loom::imdb
