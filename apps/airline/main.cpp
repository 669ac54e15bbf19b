// apps/airline/main.cpp: the airline program: `airline study|train|forecast`, parsed with CLI11.
//
// Every error a user can cause (a bad CSV, a bad flag value) arrives here as a loom::Error and
// becomes one line on stderr and exit status 2; CLI11's usage errors print their own message.
// commands.h says what each command does; README.md shows them in use.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "apps/airline/commands.h"
#include "tensor/cpu/threads.h"

namespace {

using loom::airline::Settings;

const char* kExamples = R"(
Examples:
  airline study --out runs/airline      # everything: the project's study, baselines, forecaster
  airline train --impl composed --threads 1
  airline forecast --cell rnn --seeds 3
)";

void add_common(CLI::App* c, Settings& s) {
  c->add_option("--data", s.data, "the CSV: month,passengers, one row per month")
      ->capture_default_str();
  c->add_option("--out", s.out, "folder for airline-study.json and forecasts.csv");
}

void add_classifier(CLI::App* c, Settings& s) {
  c->add_option("--epochs", s.classifier.epochs, "epochs of plain SGD")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  c->add_option("--batch", s.classifier.batch, "windows per SGD step")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  c->add_option("--hidden", s.classifier.hidden, "RNN hidden size")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  c->add_option("--seed", s.classifier.seed, "initial weights' seed")->capture_default_str();
}

void add_forecast(CLI::App* c, Settings& s) {
  c->add_option("--cell", s.forecast.cell, "forecaster cell: lstm or rnn")->capture_default_str();
  c->add_option("--units", s.forecast.hidden, "forecaster hidden size")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  c->add_option("--window", s.forecast.window, "months the forecaster reads")
      ->capture_default_str()
      ->check(CLI::Range(1, 60));
  c->add_option("--forecast-epochs", s.forecast.epochs, "full-batch Adam steps")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  c->add_option("--lr", s.forecast.lr, "Adam learning rate")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  c->add_option("--first-difference", s.forecast.first_difference,
                "difference again after the seasonal difference (true/false)")
      ->capture_default_str();
  c->add_option("--train-months", s.forecast.train_months, "the first N months train")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  c->add_option("--origin", s.forecast.origin, "the multi-month forecast starts at this month")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  c->add_option("--members", s.forecast.members,
                "nets averaged per forecaster (an ensemble; 1 = one net)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  c->add_option("--seeds", s.seeds, "forecaster seeds 1..N")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  s.data = LOOM_AIRLINE_DEFAULT_DATA;
  CLI::App app{"airline: recurrent nets on the airline-passengers series (lab 13)"};
  app.footer(kExamples);
  app.require_subcommand(1);
  CLI::App* study = app.add_subcommand(
      "study", "the project's study (sequential vs parallel, bit for bit, timed) and the forecast");
  CLI::App* train = app.add_subcommand("train", "the project's study once, one implementation");
  CLI::App* forecast =
      app.add_subcommand("forecast", "baselines and the recurrent forecaster over several seeds");
  for (CLI::App* c : {study, train, forecast})
    add_common(c, s);
  for (CLI::App* c : {study, train})
    add_classifier(c, s);
  for (CLI::App* c : {study, forecast})
    add_forecast(c, s);
  study->add_option("--repeats", s.repeats, "timed runs of each version")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  train->add_option("--impl", s.impl, "composed or fused")->capture_default_str();
  train->add_option("--device", s.device, "cpu or cuda (auto: cpu)")->capture_default_str();
  study
      ->add_option("--device", s.device,
                   "auto (adds a CUDA run when there is a GPU), cpu, or cuda (requires one)")
      ->capture_default_str();
  train->add_option("--threads", s.threads, "threads (0: all)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  CLI11_PARSE(app, argc, argv);
  try {
    if (*study) return loom::airline::run_study(s);
    if (*train) return loom::airline::run_train(s);
    return loom::airline::run_forecast(s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "airline: error: %s\n", e.what());
    return 2;
  }
}
