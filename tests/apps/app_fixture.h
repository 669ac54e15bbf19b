// tests/apps/app_fixture.h: a tiny aclImdb-style dataset and a way to run the imdb binary.
//
// make_tiny_aclimdb writes train/{pos,neg} and test/{pos,neg} with `per_class` short reviews
// each, built from a few clearly positive and negative words plus filler, so a model with a few
// hundred parameters learns it in two epochs. run_imdb runs the binary through the shell and
// returns its exit status and combined output; `crashed` is true when it died from a signal.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace loom::imdb::testing_support {

inline std::string temp_dir(const std::string& name) {
  const std::filesystem::path p = std::filesystem::temp_directory_path() /
                                  ("loom_imdb_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

inline void make_tiny_aclimdb(const std::string& root, int per_class, unsigned seed = 1) {
  const std::vector<std::string> pos = {"great",     "wonderful", "loved",
                                        "excellent", "moving",    "brilliant"};
  const std::vector<std::string> neg = {"awful", "boring", "terrible", "worst", "waste", "dull"};
  const std::vector<std::string> filler = {"the", "movie", "film",  "was",  "a",
                                           "and", "plot",  "story", "this", "actors"};
  std::mt19937 rng(seed);
  for (const char* split : {"train", "test"}) {
    for (int label = 0; label < 2; ++label) {
      const std::string dir = root + "/aclImdb/" + split + (label ? "/pos" : "/neg");
      std::filesystem::create_directories(dir);
      const auto& cue = label ? pos : neg;
      for (int i = 0; i < per_class; ++i) {
        std::string text;
        const int n = 6 + static_cast<int>(rng() % 10);
        for (int w = 0; w < n; ++w) {
          const auto& from = (rng() % 3 == 0) ? cue : filler;
          text += from[rng() % from.size()] + " ";
        }
        std::ofstream(dir + "/" + std::to_string(i) + "_" + (label ? "8" : "2") + ".txt")
            << text << "<br /><br />The End.";
      }
    }
  }
}

struct RunResult {
  int status = -1;       // exit status
  bool crashed = false;  // killed by a signal (a crash, an abort)
  std::string output;    // stdout + stderr
};

inline RunResult run_shell(const std::string& command) {
  RunResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0)
    r.output.append(buf.data(), n);
  const int raw = ::pclose(pipe);
  if (WIFEXITED(raw)) {
    r.status = WEXITSTATUS(raw);
    // The shell reports a child killed by signal N as status 128 + N.
    r.crashed = r.status > 128 && r.status < 160;
  } else {
    r.crashed = true;
  }
  return r;
}

inline RunResult run_imdb(const std::string& args) {
  return run_shell(std::string("'") + LOOM_IMDB_BIN + "' " + args);
}

// Flags that make a model small enough to train on the tiny dataset in a fraction of a second.
inline std::string tiny_model_flags() {
  return "--vocab 30 --max-len 16 --embed 8 --lstm-size 8 --batch 16 --threads 1 --lr 0.01";
}

}  // namespace loom::imdb::testing_support
