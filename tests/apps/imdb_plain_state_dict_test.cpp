// tests/apps/imdb_plain_state_dict_test.cpp: eval and predict as a PyTorch user meets them: a
// plain state_dict (the model's tensors alone, vocabulary from --vocab) gives the same results as
// the app checkpoint it came from; everything missing is named in one error; predict writes its
// results alone on stdout (tsv or jsonl, full precision); eval --on all scores a file too small
// to split; a model with an n-gram bag reads its sizes from the tensors too.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/imdb/checkpoint_format.h"
#include "nn/safetensors.h"
#include "tests/apps/app_fixture.h"

namespace loom::imdb {
namespace {

using namespace testing_support;
namespace fs = std::filesystem;

class ImdbPlainStateDict : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(temp_dir("plain"));
    make_tiny_aclimdb(*root_, 20);
    const RunResult r = run_imdb("train --data " + *root_ + "/aclImdb --out " + *root_ +
                                 "/run --epochs 1 " + tiny_model_flags());
    ASSERT_EQ(r.status, 0) << r.output;
    // What a PyTorch user has: the model's tensors (no optimizer, no metadata) and a vocab.json.
    nn::SafetensorsContents ck = nn::load_safetensors(checkpoint());
    load_checkpoint(checkpoint()).vocab.save(*root_ + "/vocab.json");
    std::vector<nn::TensorRecord> model;
    for (const nn::TensorRecord& t : ck.tensors)
      if (t.name.rfind("optim.", 0) != 0) model.push_back(t);
    nn::save_safetensors(*root_ + "/plain.safetensors", model);
    nn::save_safetensors(*root_ + "/pt.safetensors", model, {{"format", "pt"}});
    model.erase(std::remove_if(model.begin(), model.end(),
                               [](const nn::TensorRecord& t) { return t.name == "linear.bias"; }),
                model.end());
    model.push_back(nn::make_record("extra.weight", DType::Float32, {1}, std::vector<float>{1}));
    nn::save_safetensors(*root_ + "/broken.safetensors", model);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  static std::string root() { return *root_; }
  static std::string checkpoint() { return *root_ + "/run/best.safetensors"; }
  // stdout alone (stderr dropped), and the exit status.
  static RunResult stdout_of(const std::string& args) {
    return run_shell("{ '" + std::string(LOOM_IMDB_BIN) + "' " + args + " 2>/dev/null; }");
  }
  static std::string* root_;
};
std::string* ImdbPlainStateDict::root_ = nullptr;

const char* kReviews = "'a wonderful brilliant film' 'an awful boring waste' 'the plot'";

TEST_F(ImdbPlainStateDict, PredictGivesTheCheckpointsResultsAloneOnStdout) {
  const RunResult app = stdout_of("predict --checkpoint " + checkpoint() + " " + kReviews);
  ASSERT_EQ(app.status, 0) << app.output;
  for (const char* file : {"/plain.safetensors", "/pt.safetensors"}) {
    const RunResult plain = stdout_of("predict --checkpoint " + root() + file + " --vocab " +
                                      root() + "/vocab.json --max-len 16 " + kReviews);
    ASSERT_EQ(plain.status, 0) << plain.output;
    EXPECT_EQ(plain.output, app.output) << file;
  }
  // Exactly one line per review, nothing else (no banner); probability, label, review.
  std::istringstream lines(app.output);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    const size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    const double p = std::stod(line.substr(0, tab));
    EXPECT_TRUE(p > 0 && p < 1) << line;
    // Full precision: more digits than the old 4 decimals.
    EXPECT_GT(tab, 6u) << line;
  }
  EXPECT_EQ(n, 3) << app.output;
}

TEST_F(ImdbPlainStateDict, PredictJsonl) {
  const RunResult r = stdout_of("predict --format jsonl --checkpoint " + checkpoint() +
                                " 'a \"quoted\"\ttab' 'worst plot'");
  ASSERT_EQ(r.status, 0) << r.output;
  std::istringstream lines(r.output);
  std::string line;
  std::vector<nlohmann::json> rows;
  while (std::getline(lines, line))
    rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 2u) << r.output;
  EXPECT_EQ(rows[0]["text"], "a \"quoted\"\ttab");
  EXPECT_EQ(rows[1]["text"], "worst plot");
  for (const auto& j : rows) {
    EXPECT_TRUE(j["label"] == "positive" || j["label"] == "negative");
    EXPECT_GT(j["probability"].get<double>(), 0.0);
  }
  const RunResult bad = run_imdb("predict --format csv --checkpoint " + checkpoint() + " 'x'");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("--format must be tsv or jsonl"), std::string::npos) << bad.output;
}

TEST_F(ImdbPlainStateDict, EvalOfThePlainStateDictMatchesTheCheckpoint) {
  const std::string data = " --data " + root() + "/aclImdb --on test";
  const RunResult app =
      run_imdb("eval --checkpoint " + checkpoint() + data + " --json " + root() + "/app.json");
  ASSERT_EQ(app.status, 0) << app.output;
  const RunResult plain =
      run_imdb("eval --checkpoint " + root() + "/plain.safetensors --vocab " + root() +
               "/vocab.json --max-len 16" + data + " --json " + root() + "/plain.json");
  ASSERT_EQ(plain.status, 0) << plain.output;
  EXPECT_NE(plain.output.find("plain state_dict"), std::string::npos) << plain.output;
  nlohmann::json a = nlohmann::json::parse(std::ifstream(root() + "/app.json"));
  nlohmann::json b = nlohmann::json::parse(std::ifstream(root() + "/plain.json"));
  EXPECT_EQ(a["accuracy"], b["accuracy"]);
  EXPECT_EQ(a["loss"], b["loss"]);
  EXPECT_EQ(a["n"], 40);  // the official test half: 20 reviews of each class
}

TEST_F(ImdbPlainStateDict, AnNgramBagsSizesAreReadFromItsTable) {
  const std::string run = root() + "/bag";
  const RunResult trained =
      run_imdb("train --data " + root() + "/aclImdb --out " + run + " --epochs 1 " +
               tiny_model_flags() + " --pooling max-mean --ngram-buckets 50 --ngram-dim 3");
  ASSERT_EQ(trained.status, 0) << trained.output;
  std::vector<nn::TensorRecord> model;
  for (const nn::TensorRecord& t : nn::load_safetensors(run + "/best.safetensors").tensors)
    if (t.name.rfind("optim.", 0) != 0) model.push_back(t);
  nn::save_safetensors(run + "/plain.safetensors", model);
  const std::string data = " --data " + root() + "/aclImdb --on test --json ";
  const RunResult app =
      run_imdb("eval --checkpoint " + run + "/best.safetensors" + data + run + "/app.json");
  ASSERT_EQ(app.status, 0) << app.output;
  const RunResult plain =
      run_imdb("eval --checkpoint " + run + "/plain.safetensors --vocab " + root() +
               "/vocab.json --max-len 16" + data + run + "/plain.json");
  ASSERT_EQ(plain.status, 0) << plain.output;
  EXPECT_NE(plain.output.find("n-gram bag 50 buckets x 3"), std::string::npos) << plain.output;
  nlohmann::json a = nlohmann::json::parse(std::ifstream(run + "/app.json"));
  nlohmann::json b = nlohmann::json::parse(std::ifstream(run + "/plain.json"));
  EXPECT_EQ(a["accuracy"], b["accuracy"]);
  EXPECT_EQ(a["loss"], b["loss"]);
}

TEST_F(ImdbPlainStateDict, EverythingMissingIsNamedAtOnce) {
  const RunResult r = run_imdb("predict --checkpoint " + root() + "/broken.safetensors 'x'");
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE(r.crashed);
  for (const char* expected : {"3 problems", "--vocab", "linear.bias", "extra.weight"})
    EXPECT_NE(r.output.find(expected), std::string::npos) << expected << "\n" << r.output;
  // A wrong size given on the command line is named with the tensor it contradicts.
  const RunResult s = run_imdb("predict --checkpoint " + root() + "/plain.safetensors --vocab " +
                               root() + "/vocab.json --lstm-size 9 'x'");
  EXPECT_NE(s.status, 0);
  EXPECT_NE(s.output.find("lstm.weight_hh_l0"), std::string::npos) << s.output;
  // An app checkpoint lacking several metadata keys names them all.
  nn::SafetensorsContents ck = nn::load_safetensors(checkpoint());
  ck.metadata.erase("config");
  ck.metadata.erase("train_state");
  nn::save_safetensors(root() + "/half_meta.safetensors", ck.tensors, ck.metadata);
  const RunResult m = run_imdb("eval --checkpoint " + root() + "/half_meta.safetensors");
  EXPECT_NE(m.status, 0);
  EXPECT_NE(m.output.find("lacks config, train_state"), std::string::npos) << m.output;
  // Plain-state_dict flags are refused for an app checkpoint, which has its own config.
  const RunResult f = run_imdb("predict --checkpoint " + checkpoint() + " --max-len 30 'x'");
  EXPECT_NE(f.status, 0);
  EXPECT_NE(f.output.find("--max-len"), std::string::npos) << f.output;
}

TEST_F(ImdbPlainStateDict, EvalOnAllOfAFewReviews) {
  std::ofstream(root() + "/three.csv") << "review,sentiment\n"
                                       << "\"a wonderful film\",positive\n"
                                       << "\"awful and boring\",negative\n"
                                       << "\"brilliant\",positive\n";
  const RunResult r =
      run_imdb("eval --checkpoint " + checkpoint() + " --data " + root() + "/three.csv --on all");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("reviews    3"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace loom::imdb
