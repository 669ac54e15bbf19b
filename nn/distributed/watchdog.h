// nn/distributed/watchdog.h: turns a collective that never finishes into an error.
//
// A collective returns only when every rank has joined it: if one rank died without taking the
// job down, or never calls the collective, the others wait forever, burning the allocation in
// silence. The communicators wrap each collective in a Watchdog::Scope; a background thread
// checks the one in flight and, past the timeout, calls `on_timeout` with
//   "all_reduce_sum (524288 bytes) did not finish within 600 s: another rank has probably
//    failed or is not calling the same collectives"
// and on_timeout ends the job (MpiCommunicator: MPI_Abort, so every rank exits). The timeout
// includes waiting for the slowest rank to arrive: set LOOM_DIST_TIMEOUT_S (default 600 s; 0 =
// off) above the longest gap between ranks, e.g. rank 0 writing a large checkpoint.
// Leaves out: timing out work outside collectives (a rank stuck between collectives is caught
// by the *other* ranks' watchdogs, which is enough to end the job).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace loom::nn::distributed {

// LOOM_DIST_TIMEOUT_S as seconds (>= 0), or `fallback` when unset. Malformed values throw
// loom::Error naming the variable.
double collective_timeout_from_env(double fallback = 600.0);

class Watchdog {
 public:
  // timeout_s <= 0: disabled (no thread). on_timeout runs on the watchdog's thread and is
  // expected to end the process; if it returns, the watchdog waits for the next collective.
  Watchdog(double timeout_s, std::function<void(const std::string& message)> on_timeout);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  double timeout_s() const { return timeout_s_; }

  // Arms the watchdog for one collective (`what`, `bytes` name it in the message); disarms on
  // destruction. Scopes do not nest (one collective at a time per communicator).
  class Scope {
   public:
    Scope(Watchdog& dog, const char* what, int64_t bytes);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Watchdog& dog_;
  };

 private:
  void run();

  double timeout_s_;
  std::function<void(const std::string&)> on_timeout_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool armed_ = false;
  uint64_t generation_ = 0;  // counts arms, so a timeout is reported once per collective
  std::chrono::steady_clock::time_point deadline_;
  std::string what_;
  int64_t bytes_ = 0;
  std::thread thread_;  // last: starts after the fields it reads are initialised
};

}  // namespace loom::nn::distributed
