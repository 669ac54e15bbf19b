// tests/nn/safetensors_test.cpp: the safetensors writer and reader on valid data.
//
// Round trips for every dtype, 0-d and empty tensors and metadata; the byte layout the format
// prescribes (length field, space padding, alignment, deterministic order); the atomic write;
// the writer's argument checks; and interop with the independent Python reader in
// tests/reference/safetensors_min.py (skipped when no python3 is installed). Corrupted files
// are in safetensors_corruption_test.cpp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/safetensors.h"

namespace fs = std::filesystem;
using loom::DType;
using loom::nn::decode_safetensors;
using loom::nn::encode_safetensors;
using loom::nn::load_safetensors;
using loom::nn::make_record;
using loom::nn::record_values;
using loom::nn::save_safetensors;
using loom::nn::TensorRecord;

namespace {

// A fresh directory per test, removed afterwards.
class SafetensorsFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ =
        fs::temp_directory_path() / ("loom_st_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

// One record of each dtype, with values that would expose byte-order or size mistakes.
std::vector<TensorRecord> every_dtype() {
  return {
      make_record<double>("f64", DType::Float64, {2, 2}, {1.5, -2.25, 1e300, -0.0}),
      make_record<float>("f32", DType::Float32, {3}, {3.5f, -1e-30f, 7.0f}),
      // float16 as raw IEEE binary16 bits: 1.0, -2.0, 0.5, 65504 (the largest finite half).
      make_record<std::uint16_t>("f16", DType::Float16, {2, 2}, {0x3C00, 0xC000, 0x3800, 0x7BFF}),
      make_record<std::int32_t>("i32", DType::Int32, {2}, {-7, 2147483647}),
      make_record<std::int64_t>("i64", DType::Int64, {3}, {-1, 1LL << 40, 499}),
      make_record<std::uint8_t>("mask", DType::Bool, {5}, {1, 0, 0, 1, 1}),
      // bfloat16 as raw bits: 1.0, -2.0, 0.5, the largest finite bfloat16 (0x1.fep127).
      make_record<std::uint16_t>("bf16", DType::BFloat16, {4}, {0x3F80, 0xC000, 0x3F00, 0x7F7F}),
      make_record<std::int8_t>("i8", DType::Int8, {3}, {-128, 127, -1}),
      make_record<std::uint8_t>("u8", DType::UInt8, {3}, {0, 255, 128}),
  };
}

void expect_same(const TensorRecord& a, const TensorRecord& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.dtype, b.dtype) << a.name;
  EXPECT_EQ(a.shape, b.shape) << a.name;
  EXPECT_EQ(a.bytes, b.bytes) << a.name;
}

std::vector<std::uint8_t> read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_F(SafetensorsFiles, RoundTripsEveryDtypeAndMetadata) {
  const auto records = every_dtype();
  const std::map<std::string, std::string> meta{{"format", "pt"}, {"note", "caf\u00e9 \"q\""}};
  save_safetensors(path("all.safetensors"), records, meta);
  const auto back = load_safetensors(path("all.safetensors"));
  ASSERT_EQ(back.tensors.size(), records.size());
  for (const auto& r : records) {
    const TensorRecord* got = back.find(r.name);
    ASSERT_NE(got, nullptr) << r.name;
    expect_same(*got, r);
  }
  EXPECT_EQ(back.metadata, meta);
  EXPECT_EQ(record_values<double>(back.at("f64"))[2], 1e300);
  EXPECT_EQ(record_values<std::int64_t>(back.at("i64"))[1], 1LL << 40);
}

TEST_F(SafetensorsFiles, RoundTripsZeroDimAndEmptyTensors) {
  const std::vector<TensorRecord> records = {
      make_record<float>("scalar", DType::Float32, {}, {42.0f}),
      make_record<float>("empty", DType::Float32, {0}, {}),
      make_record<std::int64_t>("empty3d", DType::Int64, {2, 0, 3}, {}),
      make_record<float>("after", DType::Float32, {1}, {-1.0f}),
  };
  save_safetensors(path("z.safetensors"), records);
  const auto back = load_safetensors(path("z.safetensors"));
  ASSERT_EQ(back.tensors.size(), 4u);
  for (const auto& r : records)
    expect_same(back.at(r.name), r);
  EXPECT_TRUE(back.at("scalar").shape.empty());
  EXPECT_TRUE(back.metadata.empty());
}

TEST_F(SafetensorsFiles, RoundTripsAFileWithNoTensors) {
  save_safetensors(path("none.safetensors"), {}, {{"only", "metadata"}});
  const auto back = load_safetensors(path("none.safetensors"));
  EXPECT_TRUE(back.tensors.empty());
  EXPECT_EQ(back.metadata.at("only"), "metadata");
}

TEST(SafetensorsLayout, FollowsTheFormat) {
  const auto bytes = encode_safetensors(every_dtype(), {{"k", "v"}});
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= std::uint64_t{bytes[i]} << (8 * i);
  ASSERT_LE(8 + n, bytes.size());
  EXPECT_EQ((8 + n) % 8, 0u) << "the data region must start 8-aligned";
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + n);
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.substr(header.find_last_not_of(' ') + 1).find_first_not_of(' '),
            std::string::npos)
      << "padding must be spaces";
  const auto j = nlohmann::json::parse(header);
  EXPECT_EQ(j["__metadata__"]["k"], "v");
  // Larger elements first, then by name; every tensor starts at a multiple of its element size.
  const std::vector<std::pair<std::string, std::uint64_t>> order = {
      {"f64", 8}, {"i64", 8}, {"f32", 4},  {"i32", 4}, {"bf16", 2},
      {"f16", 2}, {"i8", 1},  {"mask", 1}, {"u8", 1}};
  std::uint64_t offset = 0;
  for (const auto& [name, elem] : order) {
    const auto offs = j[name]["data_offsets"];
    EXPECT_EQ(offs[0].get<std::uint64_t>(), offset) << name;
    EXPECT_EQ(offs[0].get<std::uint64_t>() % elem, 0u) << name << " is misaligned";
    offset = offs[1].get<std::uint64_t>();
  }
  EXPECT_EQ(8 + n + offset, bytes.size());
  EXPECT_EQ(j["f16"]["dtype"], "F16");
  EXPECT_EQ(j["mask"]["dtype"], "BOOL");
  EXPECT_EQ(j["f64"]["shape"], nlohmann::json({2, 2}));
}

TEST(SafetensorsLayout, IsDeterministicWhateverTheInputOrder) {
  auto records = every_dtype();
  const auto a = encode_safetensors(records, {{"x", "1"}});
  std::reverse(records.begin(), records.end());
  const auto b = encode_safetensors(records, {{"x", "1"}});
  EXPECT_EQ(a, b);
}

TEST_F(SafetensorsFiles, SaveReplacesAtomicallyAndLeavesNoTemporary) {
  const std::string p = path("ckpt.safetensors");
  save_safetensors(p, {make_record<float>("w", DType::Float32, {1}, {1.0f})});
  save_safetensors(p, {make_record<float>("w", DType::Float32, {2}, {2.0f, 3.0f})});
  EXPECT_EQ(record_values<float>(load_safetensors(p).at("w")), (std::vector<float>{2.0f, 3.0f}));
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(e.path().filename(), "ckpt.safetensors");
  }
  EXPECT_EQ(files, 1);
}

TEST_F(SafetensorsFiles, BadRecordsFailBeforeTouchingTheExistingFile) {
  const std::string p = path("keep.safetensors");
  save_safetensors(p, {make_record<float>("w", DType::Float32, {1}, {1.0f})});
  const auto before = read_file(p);

  TensorRecord short_bytes = make_record<float>("w", DType::Float32, {2}, {1.0f, 2.0f});
  short_bytes.bytes.pop_back();
  const auto expect_throw = [&](const std::vector<TensorRecord>& recs, const std::string& what) {
    try {
      save_safetensors(p, recs);
      ADD_FAILURE() << "expected an error mentioning: " << what;
    } catch (const loom::Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_throw({short_bytes}, "tensor 'w' of dtype float32 and shape [2] needs 8 bytes but has 7");
  auto a = make_record<float>("dup", DType::Float32, {1}, {1.0f});
  expect_throw({a, a}, "'dup' appears twice");
  expect_throw({make_record<float>("", DType::Float32, {1}, {1.0f})}, "empty name");
  expect_throw({make_record<float>("__metadata__", DType::Float32, {1}, {1.0f})}, "reserved");
  TensorRecord negative{"neg", DType::Float32, {-1}, {}};
  expect_throw({negative}, "negative extent");
  EXPECT_EQ(read_file(p), before);
}

TEST_F(SafetensorsFiles, UnwritableDestinationNamesThePath) {
  const std::string p = path("no/such/dir/x.safetensors");
  try {
    save_safetensors(p, {});
    FAIL() << "expected an error";
  } catch (const loom::Error& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST_F(SafetensorsFiles, MissingFileAndDirectoryNameThePath) {
  for (const std::string& p : {path("missing.safetensors"), dir_.string()}) {
    try {
      load_safetensors(p);
      FAIL() << "expected an error for " << p;
    } catch (const loom::Error& e) {
      EXPECT_NE(std::string(e.what()).find("'" + p + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(SafetensorsHelpers, TypedAccessChecksElementSize) {
  EXPECT_THROW(make_record<float>("x", DType::Float64, {1}, {1.0f}), loom::Error);
  EXPECT_THROW(make_record<float>("x", DType::Float32, {2}, {1.0f}), loom::Error);
  const auto r = make_record<float>("x", DType::Float32, {1}, {1.0f});
  EXPECT_THROW(record_values<double>(r), loom::Error);
  loom::nn::SafetensorsContents c;
  EXPECT_THROW(c.at("nope"), loom::Error);
  // An empty tensor may have huge other extents: no overflow, no bytes, and it round-trips.
  const auto empty = make_record<float>("e", DType::Float32, {3, 0, 1LL << 62, 1LL << 62}, {});
  const auto back = decode_safetensors(encode_safetensors({empty}, {}), "mem");
  EXPECT_EQ(back.at("e").shape, empty.shape);
  EXPECT_TRUE(back.at("e").bytes.empty());
}

// The Python reader in tests/reference/ (stdlib only) reads what loom wrote, value for value.
TEST_F(SafetensorsFiles, PythonReferenceReaderReadsLoomFiles) {
  const char* python = std::getenv("LOOM_PYTHON");
  std::string py = python ? python : "/usr/bin/python3";
  if (!fs::exists(py))
    GTEST_SKIP() << "no " << py << " (set LOOM_PYTHON); the interop check needs it";
  const std::string file = path("interop.safetensors"), out = path("dump.json");
  save_safetensors(file, every_dtype(), {{"framework", "loom"}});
  const std::string cmd =
      py + " " + LOOM_SOURCE_DIR + "/tests/reference/safetensors_min.py dump " + file + " > " + out;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(out);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["metadata"]["framework"], "loom");
  const auto& t = j["tensors"];
  ASSERT_EQ(t.size(), 9u);
  EXPECT_EQ(t["f64"]["values"], nlohmann::json({1.5, -2.25, 1e300, -0.0}));
  EXPECT_EQ(t["f32"]["values"][0].get<double>(), 3.5);
  EXPECT_FLOAT_EQ(t["f32"]["values"][1].get<float>(), -1e-30f);
  EXPECT_EQ(t["f16"]["values"], nlohmann::json({1.0, -2.0, 0.5, 65504.0}));
  EXPECT_EQ(t["i32"]["values"], nlohmann::json({-7, 2147483647}));
  EXPECT_EQ(t["i64"]["values"], nlohmann::json({-1, 1LL << 40, 499}));
  EXPECT_EQ(t["mask"]["values"], nlohmann::json({true, false, false, true, true}));
  EXPECT_EQ(t["bf16"]["values"], nlohmann::json({1.0, -2.0, 0.5, 0x1.fep127}));
  EXPECT_EQ(t["i8"]["values"], nlohmann::json({-128, 127, -1}));
  EXPECT_EQ(t["u8"]["values"], nlohmann::json({0, 255, 128}));
  EXPECT_EQ(t["bf16"]["dtype"], "BF16");
  EXPECT_EQ(t["f64"]["shape"], nlohmann::json({2, 2}));
  EXPECT_EQ(t["mask"]["dtype"], "BOOL");
}
