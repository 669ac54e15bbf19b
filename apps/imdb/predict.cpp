// apps/imdb/predict.cpp: the eval and predict subcommands (both start from a checkpoint).
//
// The model is rebuilt from the checkpoint's own config and vocabulary, so eval and predict see
// the same ids the run trained on. --vocab FILE lets a user check a vocab.json (e.g. from
// `imdb export`) against the checkpoint: any difference is an error, not a silent re-mapping.
// An int8 checkpoint (`imdb quantize`) runs on the inference path (inference.h); a plain
// state_dict takes its vocabulary from --vocab instead (plain_state_dict.h). predict writes
// its results alone on stdout (the banner and notes go to stderr), so its output can be
// piped: tsv or jsonl, probabilities with every digit a float has (%.9g).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "apps/imdb/checkpoint.h"
#include "apps/imdb/commands.h"
#include "apps/imdb/data_location.h"
#include "apps/imdb/evaluate.h"
#include "apps/imdb/inference.h"
#include "apps/imdb/plain_state_dict.h"
#include "apps/imdb/prepare.h"
#include "data/encode.h"
#include "tensor/error.h"

namespace loom::imdb {
namespace {

// The checkpoint's config with the run-time settings of this command applied.
Config runtime_config(const Checkpoint& ck, const Config& typed) {
  Config c = ck.config;
  c.threads = typed.threads;
  c.device = typed.device;
  c.batch = typed.batch;
  return c;
}

// One result line on stdout. %.9g prints every digit a float holds (it reads back exactly).
// tsv: the review as given, with tabs turned into spaces so that it stays one column.
void print_prediction(float prob, bool positive, std::string text, const std::string& format) {
  const char* label = positive ? "positive" : "negative";
  if (format == "jsonl") {
    std::printf("{\"probability\":%.9g,\"label\":\"%s\",\"text\":%s}\n", prob, label,
                nlohmann::json(text)
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                    .c_str());
    return;
  }
  for (char& ch : text)
    if (ch == '\t') ch = ' ';
  std::printf("%.9g\t%s\t%s\n", prob, label, text.c_str());
}

}  // namespace

int run_eval(const Request& r) {
  const std::string& path = r.eval.checkpoint;
  const Checkpoint ck = load_model_file(path, r.config, r.given, r.eval.vocab);
  Config c = runtime_config(ck, r.config);
  apply_threads(c.threads);
  const bool other_data = !r.config.data.empty();
  const std::string data_path = locate_data(other_data ? r.config.data : ck.config.data);
  c.data = data_path;
  if (other_data) c.test.clear();  // the checkpoint's --test file belongs to its own dataset
  // all and test need no split, so a file too small to split (a handful of reviews) still works.
  if (r.eval.on == "all" || r.eval.on == "test") c.split = "none";
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
  Scores scores;
  if (is_quantized(ck)) {
    InferenceOptions o;
    o.device = Device(c.device);
    InferenceModel model(ck, path, o);
    scores = score_rows_inference(model, d, rows, c.batch);
  } else {
    ImdbModel model(c, Device(c.device));
    restore_model(model, ck, path, /*with_optimizer=*/false);
    scores = score_rows(model, d, rows, c.batch);
  }
  const Classification cls = classify(scores);
  const std::string what =
      ck.plain ? "state_dict " + path
               : "checkpoint " + path + " (epoch " + std::to_string(ck.state.epoch) + ")";
  std::printf("%s, %s rows of %s\n%s", what.c_str(), r.eval.on.c_str(), data_path.c_str(),
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
  const Checkpoint ck = load_model_file(path, r.config, r.given, r.predict.vocab);
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

  const std::vector<std::string> cleaned = data::clean_texts(texts, text_pipeline(c), 1);
  std::vector<int32_t> tokens = data::encode_texts(cleaned, ck.vocab, encode_options(c));
  if (c.oov == "unk-last") move_unknown_last(tokens, ck.vocab.num_words());
  Scores s;
  if (is_quantized(ck)) {
    InferenceOptions o;
    o.device = Device(c.device);
    InferenceModel model(ck, path, o);
    s.probs.resize(texts.size());
    model.predict_ids(tokens.data(), static_cast<int64_t>(texts.size()), s.probs.data());
  } else {
    ImdbModel model(c, Device(c.device));
    restore_model(model, ck, path, /*with_optimizer=*/false);
    s = score_tokens(model, tokens, c.max_len, c.batch);
  }
  for (size_t i = 0; i < texts.size(); ++i)
    print_prediction(s.probs[i], s.probs[i] >= r.predict.threshold, texts[i], r.predict.format);
  return 0;
}

}  // namespace loom::imdb
