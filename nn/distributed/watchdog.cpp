// nn/distributed/watchdog.cpp: the collective watchdog (see watchdog.h).
#include "nn/distributed/watchdog.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "tensor/error.h"

namespace loom::nn::distributed {

double collective_timeout_from_env(double fallback) {
  const char* text = std::getenv("LOOM_DIST_TIMEOUT_S");
  if (text == nullptr) return fallback;
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  LOOM_CHECK(end != text && *end == '\0' && std::isfinite(value) && value >= 0,
             "LOOM_DIST_TIMEOUT_S='", text, "' is not a number of seconds >= 0");
  return value;
}

Watchdog::Watchdog(double timeout_s, std::function<void(const std::string&)> on_timeout)
    : timeout_s_(timeout_s), on_timeout_(std::move(on_timeout)) {
  if (timeout_s_ > 0) thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Watchdog::Scope::Scope(Watchdog& dog, const char* what, int64_t bytes) : dog_(dog) {
  if (dog_.timeout_s_ <= 0) return;
  {
    std::lock_guard<std::mutex> lock(dog_.mutex_);
    dog_.armed_ = true;
    ++dog_.generation_;
    dog_.what_ = what;
    dog_.bytes_ = bytes;
    dog_.deadline_ = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(dog_.timeout_s_));
  }
  dog_.wake_.notify_all();
}

Watchdog::Scope::~Scope() {
  if (dog_.timeout_s_ <= 0) return;
  std::lock_guard<std::mutex> lock(dog_.mutex_);
  dog_.armed_ = false;  // no notify: the thread finds out at its deadline, which saves a wake-up
}

void Watchdog::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  uint64_t reported = 0;  // the generation already reported (0: none)
  while (!stop_) {
    if (!armed_ || generation_ == reported) {
      wake_.wait(lock, [&] { return stop_ || (armed_ && generation_ != reported); });
      continue;
    }
    const uint64_t generation = generation_;
    const auto deadline = deadline_;
    wake_.wait_until(lock, deadline, [&] { return stop_ || generation_ != generation; });
    if (stop_ || generation_ != generation || !armed_) continue;
    if (std::chrono::steady_clock::now() < deadline) continue;  // spurious wake-up
    reported = generation;
    std::ostringstream message;
    message << what_ << " (" << bytes_ << " bytes) did not finish within " << timeout_s_
            << " s: another rank has probably failed or is not calling the same collectives"
            << " (LOOM_DIST_TIMEOUT_S sets the limit)";
    lock.unlock();
    on_timeout_(message.str());
    lock.lock();
  }
}

}  // namespace loom::nn::distributed
