// apps/imdb/commands.cpp: the train and export subcommands, and helpers shared by all commands.
// train runs data-parallel when a launcher started several processes (distributed.h).
#include "apps/imdb/commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include "apps/imdb/checkpoint.h"
#include "apps/imdb/data_location.h"
#include "apps/imdb/distributed.h"
#include "apps/imdb/export.h"
#include "apps/imdb/prepare.h"
#include "apps/imdb/progress.h"
#include "apps/imdb/run_folder.h"
#include "apps/imdb/signals.h"
#include "apps/imdb/trainer.h"
#include "data/parallel.h"
#include "nn/distributed/env.h"
#include "tensor/cpu/threads.h"
#include "tensor/error.h"

namespace loom::imdb {

namespace {

// Where ranks other than 0 send what rank 0 prints (they print only errors, to stderr).
std::FILE* null_log() {
  static std::FILE* sink = std::fopen("/dev/null", "w");
  LOOM_CHECK(sink != nullptr, "cannot open /dev/null");
  return sink;
}

}  // namespace

void apply_threads(int64_t threads) {
  set_num_threads(data::resolve_threads(static_cast<int>(threads)));
}

void prepare_output_folder(const Config& c) {
  std::error_code ec;
  std::filesystem::create_directories(c.out, ec);
  LOOM_CHECK(!ec, "--out: cannot create '", c.out, "': ", ec.message());
  write_config(c, c.out + "/config.json");
}

void prepare_output_file(const std::string& path, const char* flag) {
  if (path.empty()) return;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  LOOM_CHECK(!ec, flag, ": cannot create the folder '", parent.string(), "' for '", path,
             "': ", ec.message());
  // Made and removed at once: the same test of the folder the final write will pass.
  const std::string probe = path + ".check." + std::to_string(::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  LOOM_CHECK(fd >= 0, flag, ": cannot write '", path, "': ", std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

namespace {

// --resume: the checkpoint's settings win (the run must continue as it started); only where the
// output goes, the data path, the communicator and, when typed, the thread count may change.
Config resumed_config(const Request& r, const Checkpoint& ck) {
  const Config& c = r.config;
  Config kept = ck.config;
  kept.out = c.out;
  kept.dist = c.dist;
  // The process layout may change between runs: the state is the same network's.
  kept.pipeline_stages = c.pipeline_stages;
  kept.micro_batches = c.micro_batches;
  if (r.was_given("data")) kept.data = c.data;
  // The run's own thread count, recorded when it started, unless one is typed: results do not
  // depend on it (tensor/cpu/threads.h), so a resumed run on another machine stays exact.
  if (r.was_given("threads")) kept.threads = c.threads;
  kept.resume = true;
  return kept;
}

// One rank's part of `imdb train` inside the job (every rank runs it; rank 0 writes).
int train_in_job(const Request& r, Config& c, const Checkpoint* ck, DataParallel& par) {
  install_stop_handlers();  // after MPI's start, so these handlers are the ones that count
  std::FILE* log = par.is_root() ? stdout : null_log();
  // Before any work: one writer per folder, and never two runs mixed in one (run_folder.h).
  std::optional<RunFolder> folder;
  const FolderUse use =
      c.resume ? FolderUse::Resume : (r.overwrite ? FolderUse::Overwrite : FolderUse::Fresh);
  if (par.is_root()) folder.emplace(c.out, use, log);
  const int threads = threads_per_process(c.threads, par.comm().local_size());
  set_num_threads(threads);
  c.threads = threads;  // recorded in config.json and the checkpoints; --resume reuses it
  // Every rank reads and encodes the whole dataset (seconds; no transfer between ranks).
  const std::string path = locate_data(c.data);
  c.data = path;
  const PreparedData d = prepare_data(c, path, ck ? &ck->vocab : nullptr);
  std::fprintf(log, "data: %s\n", describe(d).c_str());
  validate_against_data(c, static_cast<int64_t>(d.split.train.size()));
  std::fprintf(log, "parallel: %s\n", par.describe(c.batch, threads).c_str());
  if (par.is_root()) prepare_output_folder(c);

  TrainOptions o;
  o.log = log;
  // The bar only for one process: Open MPI gives its ranks a pseudo-terminal even when the
  // job's output goes to a file, so under a launcher isatty() cannot tell a log from a user.
  o.interactive = par.world_size() == 1 && Progress::stdout_is_terminal();
  o.stop_after_steps = r.stop_after_steps;
  o.resume_from = ck;
  o.parallel = &par;
  const TrainResult result = train_model(c, d, o);
  // No rank leaves before rank 0's last checkpoint is on disk (a launcher that ends the job
  // when its first process exits would otherwise cut the write short).
  par.barrier();
  if (!result.stopped)
    std::fprintf(log, "done: best epoch %lld (validation loss %.4f); checkpoints in %s\n",
                 static_cast<long long>(result.state.best_epoch), result.state.best_val_loss,
                 c.out.c_str());
  return 0;
}

}  // namespace

int run_train(const Request& r) {
  Config c = r.config;
  const bool root = nn::distributed::process_info_from_env().rank == 0;
  LOOM_CHECK(!(c.resume && r.overwrite),
             "--resume continues the run in --out and --overwrite deletes it: give one of them");
  // Under mpirun/srun every rank reads rank 0's file (a shared filesystem).
  std::optional<Checkpoint> ck;
  if (c.resume) {
    const std::string last = checkpoint_path(c, "last");
    LOOM_CHECK(std::filesystem::exists(last), "--resume: no checkpoint at '", last,
               "' (train into this --out first)");
    ck = load_checkpoint(last);
    if (ck->state.finished) {
      if (root)
        std::printf("%s: this run already finished (epoch %lld, best epoch %lld); nothing to do\n",
                    last.c_str(), static_cast<long long>(ck->state.epoch),
                    static_cast<long long>(ck->state.best_epoch));
      return 0;
    }
    c = resumed_config(r, *ck);
  }
  // Under a launcher this starts MPI (or NCCL); from here on an error on one rank ends all.
  DataParallel par(c.dist, c.device, c.pipeline_stages);
  return par.run([&] { return train_in_job(r, c, ck ? &*ck : nullptr, par); });
}

int run_export(const Request& r) {
  Config c = r.config;
  apply_threads(c.threads);
  const std::string path = locate_data(c.data);
  c.data = path;
  const PreparedData d = prepare_data(c, path);
  LOOM_CHECK(!d.split.train.empty(), "export: the training split of '", path, "' is empty");
  std::printf("data: %s\n", describe(d).c_str());
  prepare_output_folder(c);
  const std::string file = export_encoded(c, d, c.out);
  std::printf("wrote %s and %s/vocab.json\n", file.c_str(), c.out.c_str());
  return 0;
}

}  // namespace loom::imdb
