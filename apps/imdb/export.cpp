// apps/imdb/export.cpp: see export.h.
#include "apps/imdb/export.h"

#include <cstring>
#include <filesystem>

#include "nn/safetensors.h"

namespace loom::imdb {
namespace {

// Rows `rows` of the [n, max_len] token matrix, packed: [rows.size(), max_len].
std::vector<int32_t> gather_tokens(const PreparedData& d, const std::vector<int64_t>& rows) {
  const size_t w = static_cast<size_t>(d.max_len);
  std::vector<int32_t> out(rows.size() * w);
  for (size_t k = 0; k < rows.size(); ++k)
    std::memcpy(&out[k * w], &d.tokens[static_cast<size_t>(rows[k]) * w], w * sizeof(int32_t));
  return out;
}

std::vector<float> gather_labels(const PreparedData& d, const std::vector<int64_t>& rows) {
  std::vector<float> out(rows.size());
  for (size_t k = 0; k < rows.size(); ++k)
    out[k] = d.labels[static_cast<size_t>(rows[k])];
  return out;
}

}  // namespace

std::string export_encoded(const Config& config, const PreparedData& d, const std::string& dir) {
  std::filesystem::create_directories(dir);
  const auto& tr = d.split.train;
  const auto& va = d.split.validation;
  const int64_t ntr = static_cast<int64_t>(tr.size()), nva = static_cast<int64_t>(va.size());
  std::vector<nn::TensorRecord> records;
  records.push_back(
      nn::make_record("train.tokens", DType::Int32, {ntr, d.max_len}, gather_tokens(d, tr)));
  records.push_back(nn::make_record("train.labels", DType::Float32, {ntr}, gather_labels(d, tr)));
  records.push_back(
      nn::make_record("val.tokens", DType::Int32, {nva, d.max_len}, gather_tokens(d, va)));
  records.push_back(nn::make_record("val.labels", DType::Float32, {nva}, gather_labels(d, va)));
  records.push_back(nn::make_record("split.train", DType::Int64, {ntr}, tr));
  records.push_back(nn::make_record("split.val", DType::Int64, {nva}, va));
  const std::map<std::string, std::string> metadata = {
      {"config", to_json(config).dump()},
      {"vocab_words", nlohmann::json(d.vocab.words()).dump()},
      {"source", d.source},
      {"format", "loom-imdb-encoded/1"}};
  const std::string path = dir + "/encoded.safetensors";
  nn::save_safetensors(path, records, metadata);
  d.vocab.save(dir + "/vocab.json");
  return path;
}

}  // namespace loom::imdb
