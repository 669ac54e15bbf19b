// apps/imdb/signals.h: stop a training run cleanly on SIGINT, SIGTERM or SIGUSR1.
//
// The handler only sets an atomic flag (nothing else is async-signal-safe); the training loop
// checks stop_requested() after each step, saves a checkpoint and exits 0 with a message.
// SIGUSR1 is what Slurm sends before the time limit (`#SBATCH --signal=USR1@120`), SIGTERM what
// it sends at the limit. A second SIGINT (Ctrl-C twice) exits at once with status 130.
// Left out: SIGHUP, Windows console events.
#pragma once

namespace loom::imdb {

// Installs the handlers (idempotent). Call once, before training starts.
void install_stop_handlers();

// True once a stop signal arrived; stop_signal() says which (0 if none).
bool stop_requested();
int stop_signal();

// "SIGINT", "SIGTERM", "SIGUSR1" or "signal N".
const char* signal_name(int sig);

}  // namespace loom::imdb
