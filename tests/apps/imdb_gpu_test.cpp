// tests/apps/imdb_gpu_test.cpp: imdb train's GPU flags: the dataset kept on the device
// (apps/imdb/device_data.h, --data-on-device) and the CUDA Graph of the training step
// (apps/imdb/graphed_step.h, --cuda-graph).
//   - DeviceDataset gathers an epoch's ordered rows, on the CPU everywhere and on a GPU;
//   - the flags are refused with a clear message, naming the flag, wherever they cannot work
//     (on the CPU, without a device, with dropout, fp16 or --clip-norm under a graph);
//   - on a GPU, a tiny training run gives the same metrics with each flag as without
//     (skipped without a device, with the device report).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/imdb/device_data.h"
#include "cuda/runtime/device.h"
#include "tensor/ops.h"
#include "tests/apps/app_fixture.h"
#include "tests/common/error_of.h"

namespace loom::imdb {
namespace {

using namespace testing_support;
using loom::test::error_of;
namespace fs = std::filesystem;

// n rows of seq_len tokens, each value derived from (row, column); label = row % 2.
void expect_gathers_ordered_rows(Device device) {
  const int64_t n = 50, seq_len = 7, batch = 8;
  std::vector<int32_t> tokens;
  std::vector<float> labels;
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < seq_len; ++c)
      tokens.push_back(static_cast<int32_t>(r * 100 + c));
    labels.push_back(static_cast<float>(r % 2));
  }
  DeviceDataset data(tokens, labels, seq_len, device);
  EXPECT_EQ(data.size(), n);
  std::vector<int64_t> order;
  for (int64_t i = 0; i < 30; ++i)
    order.push_back((i * 17) % n);  // a subset in shuffled order, as a split's epoch
  data.set_order(order);
  for (int64_t k = 0; k < 4; ++k) {  // 30 rows: 3 batches of 8 and one of 6
    const auto [t, l] = data.gather(data.batch_rows(k, batch));
    const int64_t rows = k < 3 ? batch : 6;
    ASSERT_EQ(t.shape(), (Shape{rows, seq_len})) << "batch " << k;
    ASSERT_EQ(l.shape(), (Shape{rows, 1})) << "batch " << k;
    EXPECT_EQ(t.device(), device);
    const std::vector<int32_t> got_t = t.to_vector<int32_t>();
    const std::vector<float> got_l = l.to_vector<float>();
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t row = order[k * batch + r];
      EXPECT_EQ(got_t[r * seq_len + 3], row * 100 + 3) << "batch " << k << " row " << r;
      EXPECT_EQ(got_l[r], static_cast<float>(row % 2)) << "batch " << k << " row " << r;
    }
  }
}

TEST(DeviceDataset, GathersTheOrderedRowsOnTheCpu) {
  expect_gathers_ordered_rows(kCPU);
}

TEST(DeviceDataset, GathersTheOrderedRowsOnAGpu) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::device_report();
  cuda::set_device(0);
  expect_gathers_ordered_rows(Device("cuda:0"));
}

TEST(DeviceDataset, MisuseIsAClearError) {
  EXPECT_NE(error_of([] {
              DeviceDataset d({1, 2, 3}, {0.0f, 1.0f}, 2, kCPU);
            }).find("expected tokens [n, seq_len]"),
            std::string::npos);
  DeviceDataset d({1, 2, 3, 4}, {0.0f, 1.0f}, 2, kCPU);
  EXPECT_NE(error_of([&] { d.batch_rows(0, 1); }).find("set_order first"), std::string::npos);
  EXPECT_NE(error_of([&] {
              d.set_order({0, 2});
            }).find("rows[1] = 2 is not a row"),
            std::string::npos);
  d.set_order({1, 0, 1});
  EXPECT_NE(error_of([&] { d.batch_rows(2, 2); }).find("outside the 2 batches"), std::string::npos);
  EXPECT_EQ(d.gather(d.batch_rows(1, 2)).first.to_vector<int32_t>(), (std::vector<int32_t>{3, 4}));
}

class ImdbGpuFlags : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(temp_dir("gpu"));
    make_tiny_aclimdb(*root_, 20);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  static std::string train(const std::string& out, const std::string& flags) {
    return "train --data " + *root_ + "/aclImdb --out " + *root_ + "/" + out + " --epochs 2 " +
           tiny_model_flags() + " " + flags;
  }
  static void expect_refused(const std::string& args, const std::string& expected) {
    const RunResult r = run_imdb(args);
    EXPECT_FALSE(r.crashed) << args << "\n" << r.output;
    EXPECT_NE(r.status, 0) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos)
        << "expected '" << expected << "' in the output of: imdb " << args << "\n"
        << r.output;
  }
  // The train_loss and val_loss of every epoch of a finished run.
  static std::vector<double> losses(const std::string& out) {
    std::vector<double> v;
    std::ifstream in(*root_ + "/" + out + "/metrics.jsonl");
    for (std::string line; std::getline(in, line);) {
      const nlohmann::json j = nlohmann::json::parse(line);
      v.push_back(j.at("train_loss").get<double>());
      v.push_back(j.at("val_loss").get<double>());
    }
    return v;
  }
  static std::string* root_;
};
std::string* ImdbGpuFlags::root_ = nullptr;

TEST_F(ImdbGpuFlags, AreRefusedWhereTheyCannotWork) {
  expect_refused(train("c1", "--cuda-graph"), "--cuda-graph needs --device cuda");
  expect_refused(train("c2", "--data-on-device"), "--data-on-device needs --device cuda");
  const std::string graph = "--device cuda --cuda-graph ";
  const std::string no_dropout = "--spatial-dropout 0 --lstm-dropout 0 --recurrent-dropout 0 ";
  expect_refused(train("c3", graph),
                 "add --spatial-dropout 0 --lstm-dropout 0 --recurrent-dropout 0");
  expect_refused(train("c3b", graph + no_dropout + "--embed-dropout 0.1"), "add --embed-dropout 0");
  expect_refused(train("c4", graph + no_dropout + "--precision fp16"), "needs --precision fp32");
  expect_refused(train("c5", graph + no_dropout + "--clip-norm 1"), "cannot clip");
  if (cuda::device_count() > 0) return;
  expect_refused(train("c6", graph + no_dropout), "--cuda-graph needs a CUDA device");
  expect_refused(train("c7", "--device cuda --data-on-device"),
                 "--data-on-device needs a CUDA device");
}

TEST_F(ImdbGpuFlags, TrainAsWithoutThemOnAGpu) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::device_report();
  const std::string base =
      "--device cuda --spatial-dropout 0 --lstm-dropout 0 --recurrent-dropout 0 ";
  const std::vector<std::pair<std::string, std::string>> runs = {
      {"eager", ""},
      {"on_device", "--data-on-device"},
      {"graph", "--cuda-graph"},
      {"both", "--data-on-device --cuda-graph"},
      {"queue", "--prefetch on"}};
  std::vector<double> want;
  for (const auto& [name, flags] : runs) {
    const RunResult r = run_imdb(train(name, base + flags));
    ASSERT_EQ(r.status, 0) << name << "\n" << r.output;
    const std::vector<double> got = losses(name);
    ASSERT_EQ(got.size(), 4u) << name;
    if (want.empty()) want = got;
    for (std::size_t i = 0; i < got.size(); ++i)  // the same kernels on the same batches
      EXPECT_NEAR(got[i], want[i], 1e-5 * std::abs(want[i])) << name << " loss " << i;
  }
}

}  // namespace
}  // namespace loom::imdb
