// apps/imdb/metrics.cpp: see metrics.h.
#include "apps/imdb/metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "nn/safetensors.h"
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
  // One write(2) of the whole line with O_APPEND, then fsync: the line is on disk before the
  // epoch's checkpoints are written (trainer.cpp relies on that order).
  const std::string line = to_json(m).dump() + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  LOOM_CHECK(fd >= 0, "cannot append to '", path, "': ", std::strerror(errno));
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t w = ::write(fd, line.data() + done, line.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const std::string err = std::strerror(errno);
      ::close(fd);
      LOOM_FAIL("error writing '", path, "': ", err);
    }
    done += static_cast<size_t>(w);
  }
  const bool synced = ::fsync(fd) == 0;
  const std::string err = std::strerror(errno);
  ::close(fd);
  LOOM_CHECK(synced, "error writing '", path, "' (fsync): ", err);
}

std::vector<EpochMetrics> read_metrics(const std::string& path) {
  std::vector<EpochMetrics> all;
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) return all;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t at = 0;
  for (int64_t line_no = 1; at < text.size(); ++line_no) {
    const size_t end = text.find('\n', at);
    const std::string line = text.substr(at, end == std::string::npos ? end : end - at);
    at = end == std::string::npos ? text.size() : end + 1;
    if (line.empty()) continue;
    try {
      all.push_back(epoch_metrics_from_json(nlohmann::json::parse(line)));
    } catch (const nlohmann::json::exception& e) {
      // A last line without its newline is a write cut short (a crash, a full disk): that
      // epoch never finished saving, and a resumed run writes it again.
      if (end == std::string::npos) break;
      LOOM_FAIL(path, ":", line_no, ": not a metrics record: ", e.what());
    }
  }
  return all;
}

void truncate_metrics(const std::string& path, int64_t last_epoch) {
  if (!std::filesystem::exists(path)) return;
  std::string kept;
  for (const EpochMetrics& m : read_metrics(path))
    if (m.epoch <= last_epoch) kept += to_json(m).dump() + "\n";
  nn::write_file_atomically(path, kept.data(), kept.size());
}

}  // namespace loom::imdb
