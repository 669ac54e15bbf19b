// apps/imdb/progress.cpp: see progress.h.
#include "apps/imdb/progress.h"

#include <unistd.h>
#include <string>

namespace loom::imdb {

Progress::Progress(std::FILE* out, bool interactive, int64_t epochs)
    : out_(out), interactive_(interactive), epochs_(epochs) {}

bool Progress::stdout_is_terminal() {
  return isatty(fileno(stdout)) != 0;
}

void Progress::begin_epoch(int64_t epoch, int64_t batches) {
  epoch_ = epoch;
  batches_ = batches;
  start_ = std::chrono::steady_clock::now();
  last_draw_ = start_ - std::chrono::seconds(1);
}

bool Progress::due(int64_t done) const {
  if (!interactive_) return false;
  return done >= batches_ ||
         std::chrono::steady_clock::now() - last_draw_ >= std::chrono::milliseconds(100);
}

void Progress::step(int64_t done, double loss, double acc, int64_t samples) {
  if (!due(done)) return;
  const auto now = std::chrono::steady_clock::now();
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(samples) / elapsed : 0.0;
  const double eta = done > 0 ? elapsed * static_cast<double>(batches_ - done) / done : 0.0;
  constexpr int kWidth = 24;
  const int filled = batches_ > 0 ? static_cast<int>(kWidth * done / batches_) : kWidth;
  std::string bar(kWidth, ' ');
  for (int i = 0; i < filled; ++i)
    bar[i] = '=';
  if (filled < kWidth) bar[filled] = '>';
  std::fprintf(
      out_, "\repoch %lld/%lld [%s] %lld/%lld  loss %.4f  acc %.3f  %.0f samples/s  ETA %.0fs  ",
      static_cast<long long>(epoch_), static_cast<long long>(epochs_), bar.c_str(),
      static_cast<long long>(done), static_cast<long long>(batches_), loss, acc, rate, eta);
  std::fflush(out_);
}

void Progress::end_epoch(const EpochMetrics& m) {
  if (interactive_) std::fprintf(out_, "\r\033[K");  // clear the bar
  char comm[64] = "";
  if (m.world_size > 1)
    std::snprintf(comm, sizeof(comm), ", comm %.2fs, %lld ranks", m.comm_time_s,
                  static_cast<long long>(m.world_size));
  std::fprintf(
      out_,
      "epoch %lld/%lld  train loss %.4f acc %.4f  val loss %.4f acc %.4f  "
      "%.1fs (data %.2fs, wait %.2fs%s)  %.0f samples/s%s%s\n",
      static_cast<long long>(m.epoch), static_cast<long long>(epochs_), m.train_loss, m.train_acc,
      m.val_loss, m.val_acc, m.epoch_time_s, m.data_time_s, m.wait_time_s, comm, m.samples_per_s,
      m.fp16 ? ("  scale " + std::to_string(m.loss_scale)).c_str() : "", m.best ? "  *best" : "");
  std::fflush(out_);
}

}  // namespace loom::imdb
