// tests/apps/imdb_cli_test.cpp: bad input to the imdb binary gives a clear message and a
// non-zero exit status, never a crash (each case runs the real binary as a subprocess).
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "cuda/runtime/device.h"
#include "nn/safetensors.h"
#include "tests/apps/app_fixture.h"

namespace loom::imdb {
namespace {

using namespace testing_support;
namespace fs = std::filesystem;

class ImdbBadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(temp_dir("cli"));
    make_tiny_aclimdb(*root_, 20);
    // One trained checkpoint for the checkpoint cases (1 epoch of a tiny model).
    const RunResult r = run_imdb("train --data " + *root_ + "/aclImdb --out " + *root_ +
                                 "/run --epochs 1 " + tiny_model_flags());
    ASSERT_EQ(r.status, 0) << r.output;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  static std::string root() { return *root_; }
  static std::string data() { return *root_ + "/aclImdb"; }
  static std::string checkpoint() { return *root_ + "/run/best.safetensors"; }

  // Runs imdb with `args`; expects failure without a crash and `expected` in the output.
  static void expect_clean_failure(const std::string& args, const std::string& expected) {
    const RunResult r = run_imdb(args);
    EXPECT_FALSE(r.crashed) << "crashed: " << args << "\n" << r.output;
    EXPECT_NE(r.status, 0) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos)
        << "expected '" << expected << "' in the output of: imdb " << args << "\n"
        << r.output;
  }
  static std::string* root_;
};
std::string* ImdbBadInput::root_ = nullptr;

TEST_F(ImdbBadInput, HelpExitsZeroAndNamesTheCommands) {
  const RunResult r = run_imdb("--help");
  EXPECT_EQ(r.status, 0);
  for (const char* word : {"train", "eval", "predict", "study", "export", "Examples"})
    EXPECT_NE(r.output.find(word), std::string::npos) << word;
  const RunResult t = run_imdb("train --help");
  EXPECT_EQ(t.status, 0);
  for (const char* flag : {"--max-len", "--lstm-size", "--spatial-dropout", "--prefetch",
                           "--precision", "--resume", "--config", "--preset"})
    EXPECT_NE(t.output.find(flag), std::string::npos) << flag;
}

TEST_F(ImdbBadInput, UnknownFlagOrCommand) {
  expect_clean_failure("train --bogus 3", "--bogus");
  expect_clean_failure("fly", "unknown command 'fly'");
  expect_clean_failure("", "A subcommand is required");
}

TEST_F(ImdbBadInput, MissingOrEmptyData) {
  expect_clean_failure("train --data " + root() + "/nope --out " + root() + "/o1",
                       "does not exist");
  fs::create_directories(root() + "/empty");
  expect_clean_failure("train --data " + root() + "/empty --out " + root() + "/o2", "empty");
  std::ofstream(root() + "/empty.csv") << "review,sentiment\n";
  expect_clean_failure("train --data " + root() + "/empty.csv --out " + root() + "/o3",
                       "empty.csv");
}

TEST_F(ImdbBadInput, BadHyperparametersNameTheFlag) {
  expect_clean_failure("train --data " + data() + " --max-len 0", "--max-len");
  expect_clean_failure("train --data " + data() + " --batch 5000 --out " + root() + "/o4",
                       "--batch 5000 is larger than the training split");
  expect_clean_failure("train --data " + data() + " --lstm turbo", "--lstm must be");
  expect_clean_failure("train --data " + data() + " --precision fp8", "--precision");
  expect_clean_failure("train --data " + data() + " --prefetch maybe", "--prefetch");
  expect_clean_failure("train --data " + data() + " --preset huge", "--preset");
  expect_clean_failure("train --data " + data() + " --spatial-dropout 1.5", "--spatial-dropout");
  expect_clean_failure("train --data " + data() + " --split official2", "--split");
}

TEST_F(ImdbBadInput, CudaDeviceWithoutOneIsAClearError) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "this machine has a CUDA device";
  expect_clean_failure(
      "train --data " + data() + " --device cuda --out " + root() + "/gpu " + tiny_model_flags(),
      "CUDA");
}

TEST_F(ImdbBadInput, BadConfigFile) {
  std::ofstream(root() + "/bad.json") << "{\"max_len\": 10, \"colour\": \"blue\"}";
  expect_clean_failure("train --config " + root() + "/bad.json", "colour");
  std::ofstream(root() + "/broken.json") << "{\"max_len\": ";
  expect_clean_failure("train --config " + root() + "/broken.json", "not valid JSON");
  std::ofstream(root() + "/type.json") << "{\"max_len\": \"long\"}";
  expect_clean_failure("train --config " + root() + "/type.json", "max_len");
  expect_clean_failure("train --config " + root() + "/missing.json", "cannot open");
}

TEST_F(ImdbBadInput, CorruptOrTruncatedCheckpoint) {
  std::ofstream(root() + "/garbage.safetensors") << "this is not a checkpoint at all";
  expect_clean_failure("eval --checkpoint " + root() + "/garbage.safetensors",
                       "garbage.safetensors");
  // The real file cut in half.
  std::ifstream in(checkpoint(), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(root() + "/half.safetensors", std::ios::binary)
      << bytes.substr(0, bytes.size() / 2);
  expect_clean_failure("predict --checkpoint " + root() + "/half.safetensors 'good film'",
                       "half.safetensors");
  expect_clean_failure("eval --checkpoint " + root() + "/none.safetensors", "does not exist");
  // A valid safetensors file that is not an imdb checkpoint.
  nn::save_safetensors(root() + "/other.safetensors",
                       {nn::make_record("w", DType::Float32, {2}, std::vector<float>{1, 2})});
  expect_clean_failure("eval --checkpoint " + root() + "/other.safetensors",
                       "not an imdb checkpoint");
  expect_clean_failure("train --out " + root() + "/fresh --resume", "no checkpoint");
}

TEST_F(ImdbBadInput, VocabularyCheckpointMismatch) {
  // A vocabulary fitted on other data (a different --vocab size) does not match.
  const RunResult r =
      run_imdb("export --data " + data() + " --vocab 12 --out " + root() + "/export12");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_clean_failure("predict --checkpoint " + checkpoint() + " --vocab " + root() +
                           "/export12/vocab.json 'great'",
                       "ids but checkpoint");
  // The same size but other words (a vocabulary fitted with another seed's split order).
  const RunResult r2 = run_imdb("export --data " + data() + " --vocab 30 --seed 7 --out " + root() +
                                "/export_seed7");
  ASSERT_EQ(r2.status, 0) << r2.output;
  const RunResult p = run_imdb("eval --checkpoint " + checkpoint() + " --vocab " + root() +
                               "/export_seed7/vocab.json");
  EXPECT_FALSE(p.crashed);
  if (p.status != 0) {
    EXPECT_NE(p.output.find("does not match"), std::string::npos) << p.output;
  }
  // A checkpoint whose embedding does not fit its own vocabulary (tampered metadata).
  nn::SafetensorsContents ck = nn::load_safetensors(checkpoint());
  nlohmann::json cfg = nlohmann::json::parse(ck.metadata.at("config"));
  nlohmann::json vocab = nlohmann::json::parse(ck.metadata.at("vocab"));
  cfg["vocab"] = 40;
  vocab["num_words"] = 40;
  ck.metadata["config"] = cfg.dump();
  ck.metadata["vocab"] = vocab.dump();
  nn::save_safetensors(root() + "/tampered.safetensors", ck.tensors, ck.metadata);
  expect_clean_failure("predict --checkpoint " + root() + "/tampered.safetensors 'great'",
                       "embedding.weight");
}

}  // namespace
}  // namespace loom::imdb
