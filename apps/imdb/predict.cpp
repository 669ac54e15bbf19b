// apps/imdb/predict.cpp: the eval and predict subcommands (both start from a checkpoint).
//
// The model is rebuilt from the checkpoint's own config and vocabulary, so eval and predict see
// the same ids the run trained on. --vocab FILE lets a user check a vocab.json (e.g. from
// `imdb export`) against the checkpoint: any difference is an error, not a silent re-mapping.
#include <cstdio>
#include <fstream>
#include <iostream>

#include "apps/imdb/checkpoint.h"
#include "apps/imdb/commands.h"
#include "apps/imdb/data_location.h"
#include "apps/imdb/evaluate.h"
#include "apps/imdb/prepare.h"
#include "data/encode.h"
#include "tensor/error.h"

namespace loom::imdb {
namespace {

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

// The checkpoint's config with the run-time settings of this command applied.
Config runtime_config(const Checkpoint& ck, const Config& typed) {
  Config c = ck.config;
  c.threads = typed.threads;
  c.device = typed.device;
  c.batch = typed.batch;
  return c;
}

}  // namespace

int run_eval(const Request& r) {
  const std::string& path = r.eval.checkpoint;
  const Checkpoint ck = load_checkpoint(path);
  check_vocab_matches(r.eval.vocab, ck, path);
  Config c = runtime_config(ck, r.config);
  apply_threads(c.threads);
  const bool other_data = !r.config.data.empty();
  const std::string data_path = locate_data(other_data ? r.config.data : ck.config.data);
  c.data = data_path;
  if (other_data) c.test.clear();  // the checkpoint's --test file belongs to its own dataset
  if (r.eval.on == "all" || r.eval.on == "test") c.split = "random80";  // split not needed
  c.train_limit = r.eval.on == "train" ? ck.config.train_limit : 0;
  c.val_limit = 0;  // eval scores the whole validation split
  const PreparedData d = prepare_data(c, data_path, &ck.vocab);
  std::vector<int64_t> rows;
  if (r.eval.on == "val") {
    rows = d.split.validation;
  } else if (r.eval.on == "train") {
    rows = d.split.train;
  } else if (r.eval.on == "test") {
    for (int64_t i = 0; i < d.rows; ++i)
      if (d.official[static_cast<size_t>(i)] == data::Split::Test) rows.push_back(i);
    LOOM_CHECK(!rows.empty(), "--on test: '", data_path,
               "' has no official test half (only aclImdb has one, or a run trained with --test); "
               "use --on all or val");
  } else {
    for (int64_t i = 0; i < d.rows; ++i)
      rows.push_back(i);
  }
  LOOM_CHECK(!rows.empty(), "--on ", r.eval.on, ": no rows to score in '", data_path, "'");
  ImdbModel model(c, Device(c.device));
  restore_model(model, ck, path, /*with_optimizer=*/false);
  const Classification cls = classify(score_rows(model, d, rows, c.batch));
  std::printf("checkpoint %s (epoch %lld), %s rows of %s\n%s", path.c_str(),
              static_cast<long long>(ck.state.epoch), r.eval.on.c_str(), data_path.c_str(),
              format_classification(cls).c_str());
  if (!r.eval.json_out.empty()) {
    nlohmann::json j = to_json(cls);
    j["checkpoint"] = path;
    j["on"] = r.eval.on;
    j["data"] = data_path;
    std::ofstream out(r.eval.json_out);
    LOOM_CHECK(out.good(), "--json: cannot write '", r.eval.json_out, "'");
    out << j.dump(2) << "\n";
  }
  return 0;
}

int run_predict(const Request& r) {
  const std::string& path = r.predict.checkpoint;
  const Checkpoint ck = load_checkpoint(path);
  check_vocab_matches(r.predict.vocab, ck, path);
  const Config c = runtime_config(ck, r.config);
  apply_threads(c.threads);

  std::vector<std::string> texts = r.predict.texts;
  if (!r.predict.file.empty() || texts.empty()) {
    std::ifstream file;
    std::istream* in = &std::cin;
    if (!r.predict.file.empty() && r.predict.file != "-") {
      file.open(r.predict.file);
      LOOM_CHECK(file.good(), "--file: cannot open '", r.predict.file, "'");
      in = &file;
    }
    std::string line;
    while (std::getline(*in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) texts.push_back(line);
    }
  }
  LOOM_CHECK(!texts.empty(),
             "predict: no reviews given (pass text arguments, --file, or lines "
             "on stdin)");

  const std::vector<std::string> cleaned = data::clean_texts(texts, text_pipeline(), 1);
  data::EncodeOptions eo;
  eo.max_len = c.max_len;
  const std::vector<int32_t> tokens = data::encode_texts(cleaned, ck.vocab, eo);
  ImdbModel model(c, Device(c.device));
  restore_model(model, ck, path, /*with_optimizer=*/false);
  const Scores s = score_tokens(model, tokens, c.max_len, c.batch);
  for (size_t i = 0; i < texts.size(); ++i) {
    const bool pos = s.probs[i] >= r.predict.threshold;
    std::string shown = texts[i].substr(0, 70);
    if (texts[i].size() > 70) shown += "...";
    std::printf("%.4f\t%s\t%s\n", s.probs[i], pos ? "positive" : "negative", shown.c_str());
  }
  return 0;
}

}  // namespace loom::imdb
