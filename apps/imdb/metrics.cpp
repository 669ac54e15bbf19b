// apps/imdb/metrics.cpp: see metrics.h.
#include "apps/imdb/metrics.h"

#include <filesystem>
#include <fstream>

#include "tensor/error.h"

namespace loom::imdb {

nlohmann::json to_json(const EpochMetrics& m) {
  nlohmann::json j = {{"epoch", m.epoch},
                      {"epoch_time_s", m.epoch_time_s},
                      {"data_time_s", m.data_time_s},
                      {"wait_time_s", m.wait_time_s},
                      {"train_loss", m.train_loss},
                      {"train_acc", m.train_acc},
                      {"val_loss", m.val_loss},
                      {"val_acc", m.val_acc},
                      {"lr", m.lr},
                      {"skipped_steps", m.skipped_steps},
                      {"samples_per_s", m.samples_per_s},
                      {"best", m.best},
                      {"world_size", m.world_size},
                      {"comm_time_s", m.comm_time_s}};
  if (m.fp16) j["loss_scale"] = m.loss_scale;
  return j;
}

EpochMetrics epoch_metrics_from_json(const nlohmann::json& j) {
  EpochMetrics m;
  m.epoch = j.at("epoch").get<int64_t>();
  m.epoch_time_s = j.at("epoch_time_s").get<double>();
  m.data_time_s = j.at("data_time_s").get<double>();
  m.wait_time_s = j.at("wait_time_s").get<double>();
  m.train_loss = j.at("train_loss").get<double>();
  m.train_acc = j.at("train_acc").get<double>();
  m.val_loss = j.at("val_loss").get<double>();
  m.val_acc = j.at("val_acc").get<double>();
  m.lr = j.at("lr").get<double>();
  m.skipped_steps = j.value("skipped_steps", int64_t{0});
  m.samples_per_s = j.value("samples_per_s", 0.0);
  m.best = j.value("best", false);
  m.world_size = j.value("world_size", int64_t{1});
  m.comm_time_s = j.value("comm_time_s", 0.0);
  if (j.contains("loss_scale")) {
    m.fp16 = true;
    m.loss_scale = j["loss_scale"].get<double>();
  }
  return m;
}

void append_metrics(const std::string& path, const EpochMetrics& m) {
  std::ofstream out(path, std::ios::app);
  LOOM_CHECK(out.good(), "cannot append to '", path, "'");
  out << to_json(m).dump() << "\n";
  out.flush();
  LOOM_CHECK(out.good(), "error writing '", path, "'");
}

std::vector<EpochMetrics> read_metrics(const std::string& path) {
  std::vector<EpochMetrics> all;
  std::ifstream in(path);
  if (!in.good()) return all;
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line.empty()) continue;
    try {
      all.push_back(epoch_metrics_from_json(nlohmann::json::parse(line)));
    } catch (const nlohmann::json::exception& e) {
      LOOM_FAIL(path, ":", line_no, ": not a metrics record: ", e.what());
    }
  }
  return all;
}

void truncate_metrics(const std::string& path, int64_t last_epoch) {
  if (!std::filesystem::exists(path)) return;
  const std::vector<EpochMetrics> all = read_metrics(path);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    LOOM_CHECK(out.good(), "cannot write '", tmp, "'");
    for (const EpochMetrics& m : all)
      if (m.epoch <= last_epoch) out << to_json(m).dump() << "\n";
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace loom::imdb
