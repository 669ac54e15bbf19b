// tests/apps/imdb_reliability_test.cpp: what a run guarantees (docs/guarantees.md), each
// promise against the input or accident that used to break it: out-of-range flags, a diverged
// run, a crash between the metrics line and the checkpoints, a resume without the flags, two
// trainers on one folder, a fresh run into an old one, stale temporaries, hostile checkpoint
// metadata. The binary runs as a subprocess on a tiny generated dataset.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <thread>

#include "apps/imdb/checkpoint_format.h"
#include "apps/imdb/cli.h"
#include "apps/imdb/metrics.h"
#include "apps/imdb/prepare.h"
#include "nn/safetensors.h"
#include "tensor/error.h"
#include "tests/apps/app_fixture.h"

namespace loom::imdb {
namespace {

using namespace testing_support;
namespace fs = std::filesystem;

// Runs imdb with `args`; a failure shows what it printed (the error that stopped it).
::testing::AssertionResult exits_0(const std::string& args) {
  const RunResult r = run_imdb(args);
  if (r.status == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "imdb " << args << " exited " << r.status << ":\n"
                                       << r.output;
}

class ImdbReliability : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(temp_dir("reliability"));
    make_tiny_aclimdb(*root_, 40);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  static std::string data() { return *root_ + "/aclImdb"; }
  static std::string out(const std::string& name) { return *root_ + "/" + name; }
  static std::string train(const std::string& o, const std::string& more = "") {
    return "train --data " + data() + " --out " + o + " " + tiny_model_flags() + " " + more;
  }
  static std::string* root_;
};
std::string* ImdbReliability::root_ = nullptr;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {(std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()};
}

void expect_same_tensors(const std::string& a, const std::string& b) {
  const nn::SafetensorsContents fa = nn::load_safetensors(a), fb = nn::load_safetensors(b);
  ASSERT_EQ(fa.tensors.size(), fb.tensors.size());
  for (const nn::TensorRecord& r : fa.tensors) {
    const nn::TensorRecord* s = fb.find(r.name);
    ASSERT_NE(s, nullptr) << r.name;
    EXPECT_TRUE(r.bytes == s->bytes) << "tensor " << r.name << " differs";
  }
}

// Sets every float of tensor `name` in the checkpoint at `path` to `value`.
void set_tensor(const std::string& path, const std::string& name, float value) {
  nn::SafetensorsContents f = nn::load_safetensors(path);
  std::vector<nn::TensorRecord> records = f.tensors;
  bool found = false;
  for (nn::TensorRecord& r : records) {
    if (r.name != name) continue;
    std::vector<float> v(r.bytes.size() / sizeof(float), value);
    std::memcpy(r.bytes.data(), v.data(), r.bytes.size());
    found = true;
  }
  ASSERT_TRUE(found) << name;
  nn::save_safetensors(path, records, f.metadata);
}

int parse(std::vector<std::string> args, Request& r) {
  args.insert(args.begin(), "imdb");
  std::vector<const char*> argv;
  for (const auto& a : args)
    argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(), r, /*quiet=*/true);
}

void expect_refused(std::vector<std::string> args, const std::string& expected) {
  Request r;
  try {
    parse(args, r);
    FAIL() << "accepted: " << expected;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
}

TEST(ImdbFlags, EveryFloatFlagIsFiniteAndInRange) {
  expect_refused({"train", "--lr", "inf"}, "--lr must be a finite number in (0, 10], got inf");
  expect_refused({"train", "--lr", "nan"}, "--lr must be a finite number");
  expect_refused({"train", "--lr", "1e38"}, "--lr must be a finite number");
  expect_refused({"train", "--clip-norm", "inf"}, "--clip-norm must be a finite number >= 0");
  expect_refused({"train", "--val-fraction", "nan"}, "--val-fraction must be a finite number");
  expect_refused({"study", "--spatial-dropout", "inf"}, "--spatial-dropout must be a finite");
  expect_refused({"export", "--lstm-dropout", "-0.5"}, "--lstm-dropout must be a finite");
  Config c;
  c.lr = std::numeric_limits<double>::infinity();  // a --config file can say 1e999
  EXPECT_THROW(validate(c), Error);
  Request ok;
  ASSERT_EQ(parse({"train", "--lr", "0.5", "--clip-norm", "1"}, ok), -1);
  EXPECT_DOUBLE_EQ(ok.config.lr, 0.5);
}

TEST(ImdbFlags, SmallerInputsAreSentencesNamingTheInput) {
  Request r;
  EXPECT_NE(parse({"train", "--seed", "-1"}, r), -1);  // CLI11 usage error, not 2^64 - 1
  expect_refused({"train", "--data", ""}, "--data must not be empty");
  // Sizes that used to end in std::bad_alloc deep inside nn/.
  expect_refused({"train", "--vocab", "1073741824", "--embed", "65536"}, "parameters");
  expect_refused({"train", "--max-len", "100000000"}, "--max-len must be <= 2^20");
  expect_refused({"train", "--threads", "100000"}, "--threads must be <= 4096");
}

TEST(ImdbFlags, ResumeRemembersWhichSettingsWereTyped) {
  Request r;
  ASSERT_EQ(parse({"train", "--resume", "--threads", "3"}, r), -1);
  EXPECT_TRUE(r.was_given("threads"));
  EXPECT_TRUE(r.was_given("resume"));
  EXPECT_FALSE(r.was_given("data"));
  EXPECT_FALSE(r.was_given("lr"));
}

TEST(ImdbMetricsFile, ATornLastLineIsSkippedAndAMalformedOneIsNot) {
  const std::string dir = temp_dir("torn");
  const std::string path = dir + "/metrics.jsonl";
  EpochMetrics m;
  m.epoch = 1;
  append_metrics(path, m);
  std::ofstream(path, std::ios::app) << R"({"epoch": 2, "epoch_ti)";  // cut mid-write
  ASSERT_EQ(read_metrics(path).size(), 1u);
  truncate_metrics(path, 5);
  EXPECT_EQ(read_text(path), to_json(m).dump() + "\n");  // the torn line is gone
  std::ofstream(path, std::ios::app) << "{not json\n";   // complete, so not torn: an error
  EXPECT_THROW(read_metrics(path), Error);
  fs::remove_all(dir);
}

TEST(ImdbCheckpointFormat, HostileMetadataIsAnErrorNamingTheKey) {
  nlohmann::json good = to_json(TrainState{});
  good["rng_seed"] = "abc";  // used to surface as "stoull"
  try {
    train_state_from_json(good, "x.safetensors");
    FAIL() << "accepted rng_seed 'abc'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"rng_seed\""), std::string::npos) << e.what();
  }
  good = to_json(TrainState{});
  good["loss_sum"] = nullptr;  // a NaN written as JSON
  EXPECT_THROW(train_state_from_json(good, "x"), Error);
  good = to_json(TrainState{});
  good["epoch"] = -3;
  EXPECT_THROW(train_state_from_json(good, "x"), Error);
  nn::SafetensorsContents file;
  file.metadata = {{"format", "loom-imdb-checkpoint/1"},
                   {"config", "{}"},
                   {"vocab", R"({"num_words": 500, "oov": "maybe", "words": [], "counts": []})"},
                   {"train_state", "{}"}};
  EXPECT_THROW(checkpoint_from_contents(file, "x"), Error);
}

// A checkpoint written before --stopwords existed (its config has no "stopwords" key) was
// trained on text with the stopwords kept, whatever today's default is; one that names it keeps it.
TEST(ImdbCheckpointFormat, OlderCheckpointsKeepTheirStopwords) {
  const Config config;
  const data::Vocabulary vocab =
      data::Vocabulary::from_words({"good", "bad"}, vocab_options(config));
  nlohmann::json older = to_json(config);
  older.erase("stopwords");
  nn::SafetensorsContents file;
  file.metadata = checkpoint_metadata(config, vocab, TrainState{});
  EXPECT_EQ(checkpoint_from_contents(file, "new").config.stopwords, "remove");
  file.metadata["config"] = older.dump();
  EXPECT_EQ(checkpoint_from_contents(file, "old").config.stopwords, "keep");
}

TEST(ImdbCheckpointFormat, NonFiniteValuesAreFoundInEveryFloatDtype) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(describe_non_finite({nn::make_record<float>("a", DType::Float32, {2}, {1, 2})}), "");
  EXPECT_NE(describe_non_finite({nn::make_record<float>("a", DType::Float32, {2}, {1, inf})})
                .find("tensor 'a' holds 1 NaN or inf values (of 2)"),
            std::string::npos);
  EXPECT_NE(
      describe_non_finite({nn::make_record<double>("d", DType::Float64, {1}, {std::nan("")})}), "");
  EXPECT_NE(
      describe_non_finite({nn::make_record<uint16_t>("h", DType::Float16, {2}, {0x3C00, 0x7E00})}),
      "");  // 1.0, NaN
  EXPECT_EQ(describe_non_finite({nn::make_record<int32_t>("i", DType::Int32, {1}, {-1})}), "");
}

// A diverged run stops with an error before saving anything of the bad epoch; eval and predict
// refuse a checkpoint that holds NaN weights.
TEST_F(ImdbReliability, ANonFiniteLossStopsTheRunAndKeepsTheLastGoodCheckpoint) {
  const std::string o = out("nan");
  RunResult r = run_imdb(train(o, "--epochs 3 --stop-after-steps 10"));  // 8 steps an epoch
  ASSERT_EQ(r.status, 0) << r.output;
  // A negative second moment makes Adam's step sqrt(v) NaN: the weights, then the loss, follow.
  set_tensor(o + "/last.safetensors", "optim.linear.weight.exp_avg_sq", -1.0f);
  const std::string before = read_text(o + "/last.safetensors");
  r = run_imdb("train --out " + o + " --resume");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("training loss is NaN in epoch 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("still hold epoch 1"), std::string::npos) << r.output;
  EXPECT_EQ(read_text(o + "/last.safetensors"), before);  // untouched
  EXPECT_FALSE(fs::exists(o + "/epoch_002.safetensors"));
  EXPECT_EQ(read_metrics(o + "/metrics.jsonl").size(), 1u);
  r = run_imdb("eval --checkpoint " + o + "/best.safetensors");
  EXPECT_EQ(r.status, 0) << r.output;

  set_tensor(o + "/best.safetensors", "linear.weight", std::nanf(""));
  for (const std::string& cmd : {"eval --checkpoint " + o + "/best.safetensors",
                                 "predict --checkpoint " + o + "/best.safetensors 'great film'"}) {
    r = run_imdb(cmd);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("tensor 'linear.weight' holds 8 NaN or inf values"), std::string::npos)
        << r.output;
  }
}

// The metrics line is on disk before the epoch's checkpoints: a failure between the two leaves
// one line too many (which the resume drops), never a line missing.
TEST_F(ImdbReliability, TheMetricsLineComesBeforeTheCheckpointsAndResumeRedoesTheEpoch) {
  const std::string straight = out("metrics_straight"), o = out("metrics_cut");
  ASSERT_TRUE(exits_0(train(straight, "--epochs 3")));
  fs::create_directories(o + "/epoch_002.safetensors");  // the rename onto it fails
  RunResult r = run_imdb(train(o, "--epochs 3"));
  ASSERT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(read_metrics(o + "/metrics.jsonl").size(), 2u);            // epoch 2's line came first
  EXPECT_EQ(load_checkpoint(o + "/last.safetensors").state.epoch, 1);  // the commit point
  fs::remove(o + "/epoch_002.safetensors");
  std::ofstream(o + "/metrics.jsonl", std::ios::app) << R"({"epoch": 3, "tr)";  // and torn
  r = run_imdb("train --out " + o + " --resume");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("resuming at epoch 2, step 0"), std::string::npos) << r.output;
  const auto ma = read_metrics(straight + "/metrics.jsonl"),
             mb = read_metrics(o + "/metrics.jsonl");
  ASSERT_EQ(mb.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(mb[i].epoch, static_cast<int64_t>(i + 1));
    EXPECT_DOUBLE_EQ(ma[i].val_loss, mb[i].val_loss) << i;
  }
  expect_same_tensors(straight + "/last.safetensors", o + "/last.safetensors");
}

// `imdb train --out DIR --resume` alone continues with the run's own settings and thread count.
TEST_F(ImdbReliability, ResumeWithoutRepeatingFlagsEndsBitIdentical) {
  const std::string straight = out("resume_straight"), o = out("resume_bare");
  ASSERT_TRUE(exits_0(train(straight, "--epochs 3")));
  RunResult r = run_imdb(train(o, "--epochs 3 --stop-after-steps 11"));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_imdb("train --out " + o + " --resume");  // no --threads, no --data, no model flags
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("resuming at epoch 2, step 3 (global step 11), 1 thread\n"),
            std::string::npos)
      << r.output;
  const nlohmann::json cfg = nlohmann::json::parse(read_text(o + "/config.json"));
  EXPECT_EQ(cfg["threads"], 1);
  expect_same_tensors(straight + "/last.safetensors", o + "/last.safetensors");
  expect_same_tensors(straight + "/best.safetensors", o + "/best.safetensors");
  // A different --threads is allowed and changes nothing: training gives the same bits on any
  // thread count (tests/nn/thread_count_test.cpp checks that at sizes where the work splits).
  r = run_imdb(train(out("resume_threads"), "--epochs 3 --stop-after-steps 11"));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_imdb("train --out " + out("resume_threads") + " --resume --threads 2");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_same_tensors(straight + "/last.safetensors", out("resume_threads") + "/last.safetensors");
}

// The data path is recorded absolute: a resume from another directory finds the data.
TEST_F(ImdbReliability, ConfigRecordsAnAbsoluteDataPath) {
  const std::string o = out("relative");
  RunResult r = run_shell("cd '" + *root_ + "' && '" + LOOM_IMDB_BIN +
                          "' train --data aclImdb --out relative --epochs 2 --stop-after-steps 3 " +
                          tiny_model_flags());
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json cfg = nlohmann::json::parse(read_text(o + "/config.json"));
  EXPECT_EQ(cfg["data"], data());
  r = run_shell("cd / && '" + std::string(LOOM_IMDB_BIN) + "' train --out '" + o + "' --resume");
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST_F(ImdbReliability, ASecondTrainerOnTheSameFolderIsRefusedWithThePid) {
  const std::string o = out("locked");
  const std::string cmd = std::string("'") + LOOM_IMDB_BIN + "' " +
                          train(o, "--epochs 100000 --patience 0") + " > " + o + ".log 2>&1";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(o + "/last.safetensors") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string holder = "pid " + std::to_string(pid);
  for (const char* more : {"--resume", "--overwrite"}) {
    // `timeout`: a second trainer that is not refused would run as long as the first.
    const RunResult r =
        run_shell("timeout 60 '" + std::string(LOOM_IMDB_BIN) + "' " + train(o, more));
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("is in use by another imdb run (" + holder), std::string::npos)
        << r.output;
  }
  ::kill(pid, SIGUSR1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_text(o + ".log");
  // The holder is gone, and so is its lock: a resume now runs.
  EXPECT_TRUE(exits_0("train --out " + o + " --resume --stop-after-steps 1"));
}

TEST_F(ImdbReliability, AFreshRunIntoAnOldRunsFolderNeedsOverwrite) {
  const std::string o = out("reused");
  ASSERT_TRUE(exits_0(train(o, "--epochs 2")));
  RunResult r = run_imdb(train(o, "--epochs 1"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("already holds a run (best.safetensors, epoch_001.safetensors, "
                          "epoch_002.safetensors, last.safetensors, metrics.jsonl (2 epochs))"),
            std::string::npos)
      << r.output;
  r = run_imdb(train(o, "--epochs 1 --overwrite"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("--overwrite: deleted 6 files"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(o + "/epoch_002.safetensors"));
  EXPECT_EQ(read_metrics(o + "/metrics.jsonl").size(), 1u);
  r = run_imdb(train(o, "--resume --overwrite"));
  EXPECT_EQ(r.status, 2) << r.output;
}

TEST_F(ImdbReliability, StaleTemporariesOfAKilledWriterAreDeleted) {
  const std::string o = out("stale");
  ASSERT_TRUE(exits_0(train(o, "--epochs 2 --stop-after-steps 3")));
  for (const char* f : {"last.safetensors.tmp.99999", "config.json.tmp", "metrics.jsonl.tmp"})
    std::ofstream(o + "/" + f) << "half a file";
  std::ofstream(o + "/notes.tmp") << "not ours";
  ASSERT_TRUE(exits_0("train --out " + o + " --resume"));
  EXPECT_FALSE(fs::exists(o + "/last.safetensors.tmp.99999"));
  EXPECT_FALSE(fs::exists(o + "/config.json.tmp"));
  EXPECT_FALSE(fs::exists(o + "/metrics.jsonl.tmp"));
  EXPECT_TRUE(fs::exists(o + "/notes.tmp"));
}

TEST_F(ImdbReliability, AStudyWithAnUnknownVariantIsRefusedBeforeAnyWork) {
  const std::string o = out("study_typo");
  const RunResult r = run_imdb("study --data " + data() + " --out " + o + " --variants basline");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("unknown variant 'basline' (valid: baseline, prefetch"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("data:"), std::string::npos) << "read the data first:\n" << r.output;
  EXPECT_FALSE(fs::exists(o));
}

}  // namespace
}  // namespace loom::imdb
