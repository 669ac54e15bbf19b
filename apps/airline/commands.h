// apps/airline/commands.h: the airline program's three commands, each a function of its settings
// (main.cpp parses the command line into them).
//
//   train     the project's study once: one implementation on a given number of threads
//   forecast  the baselines and the recurrent forecaster over several seeds
//   study     train twice (sequential, parallel: the losses must agree to the bit; timed, the two
//             alternating) and forecast; writes airline-study.json and forecasts.csv to --out
#pragma once

#include <cstdint>
#include <string>

#include "apps/airline/classifier_study.h"
#include "apps/airline/forecaster.h"

namespace loom::airline {

struct Settings {
  std::string data;  // the CSV
  std::string out;   // a folder for the study's files ("" = none)
  ClassifierConfig classifier;
  ForecastConfig forecast;
  std::string impl = "fused";   // train: composed | fused
  int threads = 0;              // train: 0 = every thread
  std::string device = "auto";  // train: cpu | cuda (auto = cpu); study: auto adds a CUDA run
                                // when there is a GPU, cpu never, cuda requires one
  int seeds = 5;                // forecast: seeds 1..seeds
  int repeats = 3;              // study: timed runs of each version
};

int run_train(const Settings& s);
int run_forecast(const Settings& s);
int run_study(const Settings& s);

}  // namespace loom::airline
