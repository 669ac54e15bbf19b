// tests/apps/imdb_units_test.cpp: the imdb program's pieces, in process: settings resolution,
// classification metrics, the metrics file and the study report.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "apps/imdb/cli.h"
#include "apps/imdb/config.h"
#include "apps/imdb/evaluate.h"
#include "apps/imdb/metrics.h"
#include "apps/imdb/model.h"
#include "apps/imdb/prepare.h"
#include "apps/imdb/report.h"
#include "apps/imdb/study.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#include "tests/apps/app_fixture.h"

namespace loom::imdb {
namespace {

namespace fs = std::filesystem;

int parse(std::vector<std::string> args, Request& r) {
  args.insert(args.begin(), "imdb");
  std::vector<const char*> argv;
  for (const auto& a : args)
    argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(), r);
}

TEST(ImdbConfig, DefaultsAreTheOriginalStudy) {
  Request r;
  ASSERT_EQ(parse({"train"}, r), -1);
  const Config& c = r.config;
  EXPECT_EQ(c.vocab, 500);
  EXPECT_EQ(c.max_len, 100);
  EXPECT_EQ(c.embed, 100);
  EXPECT_EQ(c.lstm_size, 100);
  EXPECT_DOUBLE_EQ(c.spatial_dropout, 0.2);
  EXPECT_DOUBLE_EQ(c.lstm_dropout, 0.2);
  EXPECT_EQ(c.batch, 100);
  EXPECT_EQ(c.epochs, 8);
  EXPECT_EQ(c.patience, 3);
  EXPECT_DOUBLE_EQ(c.lr, 1e-3);
  EXPECT_EQ(c.split, "random80");
  EXPECT_DOUBLE_EQ(c.val_fraction, 0.2);
  EXPECT_FALSE(c.prefetch);
  EXPECT_EQ(c.lstm_impl, "composed");
  EXPECT_EQ(c.precision, "fp32");
  // The original's Keras LSTM: recurrent_dropout 0.2, Keras' initial weights.
  EXPECT_DOUBLE_EQ(c.recurrent_dropout, 0.2);
  EXPECT_EQ(c.init, "keras");
  EXPECT_EQ(c.lstm_layers, 1);
  EXPECT_FALSE(c.bidirectional);
  EXPECT_EQ(c.pooling, "last");
  EXPECT_DOUBLE_EQ(c.target_accuracy, 0.83);
  EXPECT_EQ(c.stopwords,
            "remove");  // what the original's ~84% needs (docs/results/imdb-init-cpu.md)
}

TEST(ImdbConfig, LayersDefaultsPresetFileFlags) {
  const std::string dir = testing_support::temp_dir("config");
  // The file sets epochs and max_len and names a preset; the typed flag wins for max_len.
  std::ofstream(dir + "/c.json") << R"({"preset": "strong", "epochs": 3, "max_len": 50})";
  Request r;
  ASSERT_EQ(parse({"train", "--config", dir + "/c.json", "--max-len", "64", "--prefetch", "on"}, r),
            -1);
  EXPECT_EQ(r.config.vocab, 20000);  // from the preset
  EXPECT_EQ(r.config.split, "official-val");
  EXPECT_EQ(r.config.epochs, 3);    // the file over the preset
  EXPECT_EQ(r.config.max_len, 64);  // the flag over the file
  EXPECT_TRUE(r.config.prefetch);
  EXPECT_EQ(r.config.preset, "strong");
  // A typed --preset replaces the file's preset, and the file's keys still apply over it.
  Request q;
  ASSERT_EQ(parse({"study", "--config", dir + "/c.json", "--preset", "quick"}, q), -1);
  EXPECT_EQ(q.config.vocab, 500);
  EXPECT_EQ(q.config.epochs, 3);
  EXPECT_GT(q.config.train_limit, 0);
  EXPECT_GT(q.config.val_limit, 0);
  // Every Config key has a flag: a flag per JSON key, typed, ends up in the resolved config.
  Request v;
  ASSERT_EQ(parse({"train", "--val-limit", "7", "--train-limit", "9", "--lstm-size", "12"}, v), -1);
  EXPECT_EQ(v.config.val_limit, 7);
  EXPECT_EQ(v.config.train_limit, 9);
  EXPECT_EQ(v.config.lstm_size, 12);
  // write_config + load_config_file round trip everything.
  write_config(r.config, dir + "/resolved.json");
  const Config back = load_config_file(dir + "/resolved.json");
  EXPECT_EQ(to_json(back), to_json(r.config));
  fs::remove_all(dir);
}

TEST(ImdbConfig, ValidationNamesTheFlag) {
  Config c;
  c.max_len = 0;
  try {
    validate(c);
    FAIL() << "max_len 0 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--max-len"), std::string::npos) << e.what();
  }
  c = Config();
  c.batch = 100;
  EXPECT_THROW(validate_against_data(c, 50), Error);
  EXPECT_NO_THROW(validate_against_data(c, 100));
  EXPECT_THROW(apply_preset(c, "turbo"), Error);
  c = Config();
  c.stopwords = "some";
  try {
    validate(c);
    FAIL() << "stopwords 'some' accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--stopwords"), std::string::npos) << e.what();
  }
}

// --stopwords remove drops data/stopwords_en.txt's words before the vocabulary is fitted: none
// of them gets an id, and each review keeps more of its other words within max_len.
TEST(ImdbPrepare, StopwordsRemovedOrKept) {
  const std::string dir = testing_support::temp_dir("stopwords");
  testing_support::make_tiny_aclimdb(dir, /*per_class=*/10);
  Config c;
  c.vocab = 50;
  c.max_len = 8;
  ASSERT_EQ(c.stopwords, "remove");
  const PreparedData removed = prepare_data(c, dir + "/aclImdb", nullptr);
  c.stopwords = "keep";
  const PreparedData kept = prepare_data(c, dir + "/aclImdb", nullptr);
  for (const char* word : {"the", "a", "and", "this", "was"}) {  // the fixture's filler stopwords
    EXPECT_GT(kept.vocab.id(word), 0) << word;
    EXPECT_EQ(removed.vocab.id(word), -1) << word;  // out of the vocabulary (--oov drop)
  }
  for (const char* word : {"great", "awful", "movie"})
    EXPECT_GT(removed.vocab.id(word), 0) << word;
  // Fewer words per review: more padding (id 0) in the encoded rows.
  const auto pads = [](const PreparedData& d) {
    return std::count(d.tokens.begin(), d.tokens.end(), 0);
  };
  EXPECT_GT(pads(removed), pads(kept));
  EXPECT_EQ(text_pipeline(c).clean("This is not the END."), "this is not the end");
  c.stopwords = "remove";
  EXPECT_EQ(text_pipeline(c).clean("This is not the END."), "end");
  fs::remove_all(dir);
}

// official-val validates on held-out TRAINING reviews: the test half must stay unseen until
// `eval --on test`, or the kept epoch is chosen on the numbers it then reports.
TEST(ImdbPrepare, OfficialValHoldsOutPartOfTheTrainingHalf) {
  const std::string dir = testing_support::temp_dir("official_val");
  testing_support::make_tiny_aclimdb(dir, /*per_class=*/10);
  Config c;
  c.split = "official-val";
  c.val_fraction = 0.2;
  c.vocab = 50;
  c.max_len = 8;
  const PreparedData d = prepare_data(c, dir + "/aclImdb", nullptr);
  ASSERT_EQ(d.rows, 40);                 // 10 per class, 2 classes, 2 halves
  EXPECT_EQ(d.split.train.size(), 16u);  // 20 official training reviews: 16 train, 4 validate
  EXPECT_EQ(d.split.validation.size(), 4u);
  std::vector<int64_t> seen;
  for (const auto* part : {&d.split.train, &d.split.validation})
    for (int64_t row : *part) {
      EXPECT_EQ(d.official[static_cast<size_t>(row)], data::Split::Train) << "row " << row;
      seen.push_back(row);
    }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end()) << "a row in both parts";
  // The same seed gives the same split; plain `official` validates on the test half.
  EXPECT_EQ(prepare_data(c, dir + "/aclImdb", nullptr).split.validation, d.split.validation);
  c.split = "official";
  const PreparedData o = prepare_data(c, dir + "/aclImdb", nullptr);
  EXPECT_EQ(o.split.train.size(), 20u);
  for (int64_t row : o.split.validation)
    EXPECT_EQ(o.official[static_cast<size_t>(row)], data::Split::Test);
}

TEST(ImdbEvaluate, ConfusionMatrixAndScores) {
  Scores s;
  s.probs = {0.9f, 0.8f, 0.3f, 0.6f, 0.1f, 0.4f};
  s.labels = {1, 1, 1, 0, 0, 0};
  s.loss = 0.5;
  const Classification c = classify(s);
  EXPECT_EQ(c.tp, 2);
  EXPECT_EQ(c.fn, 1);
  EXPECT_EQ(c.fp, 1);
  EXPECT_EQ(c.tn, 2);
  EXPECT_DOUBLE_EQ(c.accuracy, 4.0 / 6);
  EXPECT_DOUBLE_EQ(c.precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(c.recall, 2.0 / 3);
  EXPECT_DOUBLE_EQ(c.f1, 2.0 / 3);
  // No positive predictions: precision and F1 are 0, not NaN.
  s.probs = {0.1f, 0.2f};
  s.labels = {1, 0};
  const Classification z = classify(s);
  EXPECT_EQ(z.precision, 0);
  EXPECT_EQ(z.f1, 0);
}

TEST(ImdbMetrics, JsonlRoundTripAndTruncate) {
  const std::string dir = testing_support::temp_dir("metrics");
  const std::string path = dir + "/m.jsonl";
  for (int e = 1; e <= 3; ++e) {
    EpochMetrics m;
    m.epoch = e;
    m.val_acc = 0.5 + 0.1 * e;
    m.fp16 = e == 2;
    m.loss_scale = 65536;
    append_metrics(path, m);
  }
  std::vector<EpochMetrics> all = read_metrics(path);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_DOUBLE_EQ(all[2].val_acc, 0.8);
  EXPECT_TRUE(all[1].fp16);
  EXPECT_FALSE(all[0].fp16);  // loss_scale written only for fp16 epochs
  truncate_metrics(path, 2);
  EXPECT_EQ(read_metrics(path).size(), 2u);
  std::ofstream(path, std::ios::app) << "{not json\n";
  EXPECT_THROW(read_metrics(path), Error);
  fs::remove_all(dir);
}

TEST(ImdbReport, TableSpeedupsAndSkippedVariants) {
  const std::string dir = testing_support::temp_dir("report");
  VariantOutcome base{"baseline", "fp32", "ran", "", Config(), {}, ""};
  VariantOutcome fast{"prefetch", "+ prefetch", "ran", "", Config(), {}, ""};
  VariantOutcome gpu{"cuda_baseline", "on the GPU", "skipped", "no CUDA device", Config(), {}, ""};
  for (int e = 1; e <= 2; ++e) {
    EpochMetrics m;
    m.epoch = e;
    m.epoch_time_s = 10;
    m.val_acc = 0.80;
    base.epochs.push_back(m);
    m.epoch_time_s = 5;
    m.val_acc = 0.79;
    fast.epochs.push_back(m);
  }
  StudyContext ctx;
  write_report(dir, ctx, {base, fast, gpu}, "Plots skipped: test.");
  std::ifstream in(dir + "/report.md");
  const std::string md((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(md.find("| prefetch |"), std::string::npos) << md;
  EXPECT_NE(md.find("2.00x"), std::string::npos) << md;  // 10 s / 5 s
  EXPECT_NE(md.find("-1.00"), std::string::npos) << md;  // 79% vs 80%
  EXPECT_NE(md.find("**cuda_baseline**"), std::string::npos) << md;
  EXPECT_NE(md.find("no CUDA device"), std::string::npos) << md;
  EXPECT_NE(md.find("Plots skipped"), std::string::npos) << md;
  std::ifstream csv(dir + "/metrics.csv");
  int lines = 0;
  for (std::string l; std::getline(csv, l);)
    ++lines;
  EXPECT_EQ(lines, 1 + 4);  // header + 2 variants x 2 epochs (the skipped one has none)
  fs::remove_all(dir);
}

// Time-to-accuracy from a metrics file: the first epoch at or above the target, and the wall time
// of every epoch up to it; never reached -> nothing; the report shows both speedups.
TEST(ImdbReport, TimeToTargetFromAMetricsFile) {
  const std::string dir = testing_support::temp_dir("target");
  const double acc[] = {0.70, 0.82, 0.84, 0.83};
  for (int e = 1; e <= 4; ++e) {
    EpochMetrics m;
    m.epoch = e;
    m.epoch_time_s = 10 + e;  // 11, 12, 13, 14 s
    m.val_acc = acc[e - 1];
    append_metrics(dir + "/metrics.jsonl", m);
  }
  const std::vector<EpochMetrics> slow = read_metrics(dir + "/metrics.jsonl");
  const std::optional<TargetReached> hit = time_to_target(slow, 0.83);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->epoch, 3);
  EXPECT_DOUBLE_EQ(hit->seconds, 11 + 12 + 13);
  EXPECT_FALSE(time_to_target(slow, 0.9).has_value());
  EXPECT_EQ(time_to_target(slow, 0.5)->epoch, 1);

  VariantOutcome base{"baseline", "fp32", "ran", "", Config(), slow, ""};
  VariantOutcome fast{"fused", "+ fused", "ran", "", Config(), slow, ""};
  for (EpochMetrics& m : fast.epochs)
    m.epoch_time_s /= 4;  // 4x per epoch, and so 4x to the target
  VariantOutcome never{"fp16", "+ fp16", "ran", "", Config(), {slow[0]}, ""};
  StudyContext ctx;
  ctx.target_accuracy = 0.83;
  write_report(dir + "/report", ctx, {base, fast, never}, "Plots skipped: test.");
  std::ifstream in(dir + "/report/report.md");
  const std::string md((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(md.find("| baseline | 3 | 36.0 s | 1.00x | 1.00x |"), std::string::npos) << md;
  EXPECT_NE(md.find("| fused | 3 | 9.0 s | 4.00x | 4.00x |"), std::string::npos) << md;
  EXPECT_NE(md.find("| fp16 | not reached in 1 | n/a |"), std::string::npos) << md;
  fs::remove_all(dir);
}

TEST(ImdbStudy, VariantsCoverTheAblationAndSkipCudaWithoutADevice) {
  std::vector<std::string> names;
  for (const Variant& v : study_variants())
    names.push_back(v.name);
  for (const char* n : {"baseline", "prefetch", "fused", "fp16", "all", "cuda_baseline",
                        "cuda_prefetch", "cuda_fused", "cuda_persistent", "cuda_fp16", "cuda_all"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  Config c;
  EXPECT_EQ(skip_reason(study_variants()[0], c), "");  // the baseline always runs
  for (const Variant& v : study_variants()) {
    Config vc = c;
    v.apply(vc);
    if (v.needs_cuda && !skip_reason(v, vc).empty()) {
      EXPECT_NE(skip_reason(v, vc).find("CUDA"), std::string::npos) << skip_reason(v, vc);
    }
  }
}

// The CPU's mixed-precision variants (names kept) run bf16, the GPU's fp16; bf16 on a GPU is
// refused with the reason; the report's table names what each variant ran, for bf16 with the
// GEMM kernel of this CPU.
TEST(ImdbStudy, CpuMixedPrecisionVariantsRunBf16AndTheReportNamesThePrecision) {
  for (const Variant& v : study_variants()) {
    Config c;
    v.apply(c);
    if (v.name == "fp16" || v.name == "all") {
      EXPECT_EQ(c.precision, "bf16") << v.name;
    }
    if (v.name == "cuda_fp16" || v.name == "cuda_all") {
      EXPECT_EQ(c.precision, "fp16") << v.name;
    }
  }
  Config gpu;  // bf16 on a GPU: cuBLAS's bfloat16 GEMMs, also no loss scaling
  gpu.device = "cuda";
  gpu.precision = "bf16";
  EXPECT_TRUE(ImdbModel::supports(gpu, nullptr));
  const std::string on_gpu = ImdbModel::describe_precision(gpu);
  EXPECT_NE(on_gpu.find("cuBLAS"), std::string::npos) << on_gpu;
  EXPECT_NE(on_gpu.find("no loss scaling"), std::string::npos) << on_gpu;

  Config bf16;
  bf16.precision = "bf16";
  const std::string said = ImdbModel::describe_precision(bf16);
  EXPECT_NE(said.find("bf16"), std::string::npos) << said;
  EXPECT_NE(said.find(cpu_bf16_gemm_kernel()), std::string::npos) << said;
  EXPECT_NE(said.find("no loss scaling"), std::string::npos) << said;

  const std::string dir = testing_support::temp_dir("precision");
  EpochMetrics m;
  m.epoch = 1;
  m.epoch_time_s = 2;
  VariantOutcome base{"baseline", "fp32", "ran", "", Config(), {m}, ""};
  VariantOutcome mixed{"all", "+ everything", "ran", "", bf16, {m}, said};
  write_report(dir, StudyContext(), {base, mixed}, "Plots skipped: test.");
  std::ifstream in(dir + "/report.md");
  const std::string md((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(md.find("| precision |"), std::string::npos) << md;
  EXPECT_NE(md.find("| all | + everything | " + said + " |"), std::string::npos) << md;
  EXPECT_NE(md.find("| baseline | fp32 | fp32 |"), std::string::npos) << md;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace loom::imdb
