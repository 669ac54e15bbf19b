// apps/imdb/run_folder.h: the --out folder of a training run: one writer at a time, and never
// two runs mixed in one folder.
//
// Claiming a folder (the process that writes it, rank 0 of a data-parallel job, does this once):
//   - creates it and locks it with flock(2) on <out>/imdb.lock, which records the holder's pid
//     and host; a second trainer on the same folder is refused with that pid. The kernel drops
//     the lock when the holder exits, kill -9 included, so a crash leaves nothing to clean up;
//   - deletes the temporary files a killed writer left (<run file>.tmp, <run file>.tmp.<pid>):
//     while the lock is held nobody else writes there;
//   - Fresh: refuses a folder that already holds a run (a checkpoint, or epochs in
//     metrics.jsonl), whose epoch files would otherwise sit beside the new ones; other files
//     (a Slurm log, a config.json without any epoch) are left alone;
//     Resume: keeps everything; Overwrite: deletes the old run's files (config.json,
//     metrics.jsonl, last/best/epoch_NNN.safetensors) and prints their names.
// Left out: locking for eval, predict and export (they read, or write only the files named).
#pragma once

#include <cstdio>
#include <string>

namespace loom::imdb {

enum class FolderUse { Fresh, Resume, Overwrite };

class RunFolder {
 public:
  // Claims `path` as above; messages about deleted files go to `log`. Throws loom::Error naming
  // the folder (and the holder's pid when another process holds the lock).
  RunFolder(const std::string& path, FolderUse use, std::FILE* log);
  ~RunFolder();  // releases the lock
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

 private:
  int lock_fd_ = -1;
};

}  // namespace loom::imdb
