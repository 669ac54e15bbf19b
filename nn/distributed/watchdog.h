// nn/distributed/watchdog.h: turns a collective that never finishes into an error.
//
// A collective returns only when every rank has joined it. If one rank died without taking the
// job down, or took another code path and never calls the collective, the others wait forever:
// the worst way for a cluster job to fail (it burns its allocation and says nothing). The
// communicators wrap each collective in a Watchdog::Scope; a background thread checks the one
// collective in flight and, when it has run longer than the timeout, calls `on_timeout` with
//   "all_reduce_sum (524288 bytes) did not finish within 600 s: another rank has probably
//    failed or is not calling the same collectives"
// and on_timeout ends the job (MpiCommunicator: MPI_Abort, so every rank exits).
//
// The timeout is a bound on one collective, *including the time spent waiting for the slowest
// rank to arrive*: set it above the longest gap between ranks (e.g. rank 0 writing a large
// checkpoint while the others wait at the next all-reduce). LOOM_DIST_TIMEOUT_S overrides the
// default (600 s); 0 turns the watchdog off.
// Leaves out: timing out work outside collectives (a rank stuck in an infinite loop between
// collectives is caught by the *other* ranks' watchdogs, which is enough to end the job).
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
