// tests/nn/safetensors_corruption_test.cpp: broken safetensors files give loom::Error, never a
// crash.
//
// Three kinds of damage: truncation at every offset, bit flips across the length field and the
// header (each must either throw loom::Error or decode to a self-consistent result), and
// hand-written headers for each rule the reader enforces, asserting the message names the file,
// the tensor and the problem. Run under -DLOOM_SANITIZE=ON to catch out-of-range reads.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "nn/safetensors.h"

using loom::DType;
using loom::nn::decode_safetensors;
using loom::nn::encode_safetensors;
using loom::nn::make_record;

namespace {

const char* kSource = "test.safetensors";

std::vector<std::uint8_t> valid_file() {
  return encode_safetensors(
      {make_record<float>("weight", DType::Float32, {2, 3}, {1, 2, 3, 4, 5, 6}),
       make_record<std::int64_t>("step", DType::Int64, {2}, {7, 8}),
       make_record<std::uint8_t>("mask", DType::Bool, {3}, {1, 0, 1})},
      {{"format", "pt"}});
}

// A file from a header text and a data region of `data_bytes` zero bytes (not padded: the
// format only asks writers to pad).
std::vector<std::uint8_t> file_with(const std::string& header, std::size_t data_bytes,
                                    std::uint64_t length_field = UINT64_MAX) {
  const std::uint64_t n = length_field == UINT64_MAX ? header.size() : length_field;
  std::vector<std::uint8_t> f;
  for (int i = 0; i < 8; ++i)
    f.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  f.insert(f.end(), header.begin(), header.end());
  f.resize(f.size() + data_bytes, 0);
  return f;
}

// Expects decode to throw loom::Error whose message holds the source name and every part.
void expect_error(const std::vector<std::uint8_t>& file, std::initializer_list<const char*> parts) {
  try {
    decode_safetensors(file, kSource);
    ADD_FAILURE() << "expected an error mentioning: " << *parts.begin();
  } catch (const loom::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(kSource), std::string::npos) << "message does not name the file: " << msg;
    for (const char* p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << msg;
  }
}

}  // namespace

TEST(SafetensorsCorruption, EveryTruncationIsAnError) {
  const auto good = valid_file();
  ASSERT_NO_THROW(decode_safetensors(good, kSource));
  for (std::size_t len = 0; len < good.size(); ++len) {
    const std::vector<std::uint8_t> cut(good.begin(), good.begin() + len);
    EXPECT_THROW(decode_safetensors(cut, kSource), loom::Error) << "truncated to " << len;
  }
  // Cut inside the data region: the message names the tensor that runs past the end.
  std::vector<std::uint8_t> cut(good.begin(), good.end() - 1);
  expect_error(cut, {"tensor 'mask'", "run past the end", "truncated"});
}

TEST(SafetensorsCorruption, TruncatedFileOnDiskNamesThePath) {
  const auto good = valid_file();
  const auto p = std::filesystem::temp_directory_path() /
                 ("loom_st_trunc_" + std::to_string(::getpid()) + ".safetensors");
  {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(good.data()), static_cast<std::streamsize>(40));
  }
  try {
    loom::nn::load_safetensors(p.string());
    ADD_FAILURE() << "expected an error";
  } catch (const loom::Error& e) {
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
  }
  std::filesystem::remove(p);
}

// Flip bits everywhere in the length field and header. Many flips still give a valid file (a
// changed letter in a name, a space in the padding); those must decode to something
// self-consistent. The rest must be a loom::Error, not another exception type or a crash.
TEST(SafetensorsCorruption, FlippedHeaderBytesNeverCrash) {
  const auto good = valid_file();
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= std::uint64_t{good[i]} << (8 * i);
  int errors = 0, decoded = 0;
  for (std::size_t pos = 0; pos < 8 + n; ++pos) {
    for (std::uint8_t mask : {0x01, 0x04, 0x20, 0x80, 0xFF}) {
      auto bad = good;
      bad[pos] ^= mask;
      try {
        const auto c = decode_safetensors(bad, kSource);
        ++decoded;
        for (const auto& r : c.tensors) {
          EXPECT_EQ(static_cast<std::int64_t>(r.bytes.size()),
                    loom::numel(r.shape) * static_cast<std::int64_t>(dtype_size(r.dtype)))
              << "byte " << pos << " mask " << int(mask);
        }
      } catch (const loom::Error&) {
        ++errors;
      }
    }
  }
  EXPECT_GT(errors, 0);
  EXPECT_GT(decoded, 0);  // the test really exercised both outcomes
}

TEST(SafetensorsCorruption, HeaderLengthField) {
  expect_error({1, 2, 3}, {"too short"});
  expect_error(file_with("{}", 0, 1ULL << 40), {"exceeds the 100 MB limit"});
  expect_error(file_with("{}", 0, 3), {"header length 3 but only 2 bytes follow"});
  expect_error(file_with("[1]", 0), {"does not start with '{'"});
  expect_error(file_with("", 0), {"does not start with '{'"});
}

TEST(SafetensorsCorruption, BadJson) {
  expect_error(file_with("{\"a\": {", 0), {"not valid JSON"});
  expect_error(file_with("{\"a\": 1}}", 0), {"not valid JSON"});
  expect_error(file_with(std::string("{\"a\": 1}\0\0\0", 11), 0), {"NUL byte at offset 16"});
  // Deep nesting must be a clean error (nlohmann parses iteratively), not a stack overflow.
  expect_error(file_with("{\"a\": " + std::string(100000, '[') + std::string(100000, ']') + "}", 0),
               {"tensor 'a'", "not a JSON object"});
}

TEST(SafetensorsCorruption, MissingOrMalformedFields) {
  expect_error(file_with(R"({"a": 3})", 0), {"tensor 'a'", "not a JSON object"});
  expect_error(file_with(R"({"a": {"shape": [1], "data_offsets": [0, 4]}})", 4),
               {"tensor 'a'", "no \"dtype\""});
  expect_error(file_with(R"({"a": {"dtype": "F32", "data_offsets": [0, 4]}})", 4),
               {"tensor 'a'", "no \"shape\""});
  expect_error(file_with(R"({"a": {"dtype": "F32", "shape": [1]}})", 4),
               {"tensor 'a'", "no \"data_offsets\""});
  expect_error(file_with(R"({"a": {"dtype": 5, "shape": [1], "data_offsets": [0, 4]}})", 4),
               {"tensor 'a'", "\"dtype\" is not a string"});
  expect_error(file_with(R"({"a": {"dtype": "F32", "shape": 1, "data_offsets": [0, 4]}})", 4),
               {"tensor 'a'", "\"shape\" is not an array"});
  expect_error(file_with(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4),
               {"tensor 'a'", "not a non-negative integer"});
  expect_error(file_with(R"({"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", 4),
               {"tensor 'a'", "not a non-negative integer"});
  expect_error(file_with(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 4),
               {"tensor 'a'", "not a [begin, end] pair"});
  expect_error(file_with(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 1e30]}})", 4),
               {"tensor 'a'", "not non-negative integers"});
  expect_error(file_with(R"({"__metadata__": [1]})", 0), {"\"__metadata__\" is not a JSON object"});
  expect_error(file_with(R"({"__metadata__": {"k": 1}})", 0), {"metadata value for 'k'"});
}

TEST(SafetensorsCorruption, Dtypes) {
  expect_error(file_with(R"({"w": {"dtype": "I16", "shape": [2], "data_offsets": [0, 4]}})", 4),
               {"unsupported dtype I16 for tensor 'w'"});
  expect_error(file_with(R"({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})", 2),
               {"unsupported dtype F8_E4M3 for tensor 'w'"});
  // A BF16 tensor's size is checked like any other's: 2 elements are 4 bytes, not 2.
  expect_error(file_with(R"({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 2]}})", 2),
               {"tensor 'w'"});
  expect_error(file_with(R"({"w": {"dtype": "F33", "shape": [2], "data_offsets": [0, 8]}})", 8),
               {"unknown dtype F33 for tensor 'w'"});
  auto f = file_with(R"({"m": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}})", 2);
  f.back() = 2;
  expect_error(f, {"tensor 'm'", "BOOL holds byte 2"});
}

TEST(SafetensorsCorruption, OffsetsAndSizes) {
  expect_error(file_with(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})", 4),
               {"tensor 'a'", "begin > end"});
  expect_error(file_with(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4),
               {"tensor 'a'", "run past the end of the data region (4 bytes"});
  expect_error(file_with(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", 4),
               {"tensor 'a'", "hold 4 bytes but dtype F32 x shape [2] needs 8"});
  expect_error(
      file_with(
          R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})",
          4),
      {"tensor 'a'", "more elements than int64"});
  expect_error(file_with(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                         R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                         12),
               {"tensor 'b'", "overlaps tensor 'a'"});
  expect_error(file_with(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                         R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                         12),
               {"gap in the data region", "bytes [4, 8) before tensor 'b'"});
  expect_error(file_with(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 8),
               {"data region has 8 bytes but the tensors cover only 4"});
}

TEST(SafetensorsCorruption, DuplicateNames) {
  expect_error(file_with(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                         R"( "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                         8),
               {"name 'a' appears twice"});
  expect_error(file_with(R"({"__metadata__": {}, "__metadata__": {}})", 0),
               {"name '__metadata__' appears twice"});
}

TEST(SafetensorsCorruption, AcceptsUnpaddedAndEmptyTensorsAnywhere) {
  // Valid but unusual files from other writers: no padding, an empty tensor between two others.
  const auto f = file_with(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                           R"( "e": {"dtype": "I64", "shape": [0, 5], "data_offsets": [4, 4]},)"
                           R"( "z": {"dtype": "F32", "shape": [4611686018427387904,)"
                           R"( 4611686018427387904, 0], "data_offsets": [4, 4]},)"
                           R"( "b": {"dtype": "BOOL", "shape": [], "data_offsets": [4, 5]}})",
                           5);
  const auto c = decode_safetensors(f, kSource);
  ASSERT_EQ(c.tensors.size(), 4u);
  EXPECT_EQ(c.tensors[0].name, "a");  // file order: by offset
  EXPECT_EQ(c.at("e").shape, (std::vector<std::int64_t>{0, 5}));
  EXPECT_TRUE(c.at("b").shape.empty());
}
