// apps/imdb/run_folder.cpp: see run_folder.h.
#include "apps/imdb/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <vector>

#include "tensor/error.h"

namespace loom::imdb {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLockName = "imdb.lock";

// The files a run writes (what --overwrite deletes), and the temporaries their atomic writes
// leave behind when killed between the write and the rename.
bool is_checkpoint(const std::string& name) {
  static const std::regex re(R"((last|best|epoch_\d+)\.safetensors)");
  return std::regex_match(name, re);
}
bool is_run_file(const std::string& name) {
  return is_checkpoint(name) || name == "config.json" || name == "metrics.jsonl";
}
bool is_temporary(const std::string& name) {
  static const std::regex re(R"(((last|best|epoch_\d+)\.safetensors|config\.json|metrics\.jsonl))"
                             R"(\.tmp(\.\d+)?)");
  return std::regex_match(name, re);
}

std::vector<std::string> file_names(const std::string& path) {
  std::vector<std::string> names;
  for (const fs::directory_entry& e : fs::directory_iterator(path))
    if (e.is_regular_file()) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// "last.safetensors, epoch_001.safetensors, metrics.jsonl (2 epochs)" or "" for no old run.
std::string describe_old_run(const std::string& path, const std::vector<std::string>& names) {
  std::string found;
  for (const std::string& n : names) {
    if (!is_checkpoint(n)) continue;
    found += (found.empty() ? "" : ", ") + n;
  }
  std::ifstream metrics(path + "/metrics.jsonl");
  int64_t lines = 0;
  for (std::string line; std::getline(metrics, line);)
    lines += !line.empty();
  if (lines > 0)
    found += (found.empty() ? "" : ", ") + std::string("metrics.jsonl (") + std::to_string(lines) +
             " epoch" + (lines == 1 ? "" : "s") + ")";
  return found;
}

// Opens and flocks <path>/imdb.lock; returns its descriptor. Refuses when another process holds
// it, naming the pid it wrote there.
int lock_folder(const std::string& path, std::FILE* log) {
  const std::string file = path + "/" + kLockName;
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  LOOM_CHECK(fd >= 0, "--out: cannot create the lock file '", file, "': ", std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      char holder[256] = {0};
      const ssize_t n = ::pread(fd, holder, sizeof holder - 1, 0);
      ::close(fd);
      std::string who = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "a process";
      while (!who.empty() && who.back() == '\n')
        who.pop_back();
      LOOM_FAIL("--out '", path, "' is in use by another imdb run (", who,
                "); wait for it to end, or choose another --out");
    }
    // Some network filesystems cannot lock; training still works, unguarded.
    std::fprintf(log,
                 "warning: cannot lock '%s' (%s): a second run on this --out would not be "
                 "noticed\n",
                 file.c_str(), std::strerror(err));
    return fd;
  }
  char host[128] = "?";
  ::gethostname(host, sizeof host - 1);
  const std::string me = "pid " + std::to_string(::getpid()) + " on " + host + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    std::fprintf(log, "warning: cannot record this process in '%s'\n", file.c_str());
  }
  return fd;
}

void remove_files(const std::string& path, const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    std::error_code ec;
    fs::remove(path + "/" + n, ec);
    LOOM_CHECK(!ec, "--out: cannot delete '", path, "/", n, "': ", ec.message());
  }
}

}  // namespace

RunFolder::RunFolder(const std::string& path, FolderUse use, std::FILE* log) {
  std::error_code ec;
  fs::create_directories(path, ec);
  LOOM_CHECK(!ec, "--out: cannot create '", path, "': ", ec.message());
  lock_fd_ = lock_folder(path, log);
  try {
    std::vector<std::string> names = file_names(path);
    std::vector<std::string> stale, old;
    for (const std::string& n : names) {
      if (is_temporary(n)) stale.push_back(n);
      if (is_run_file(n)) old.push_back(n);
    }
    remove_files(path, stale);  // nobody else writes here while we hold the lock
    if (use == FolderUse::Fresh) {
      const std::string run = describe_old_run(path, names);
      LOOM_CHECK(run.empty(), "--out '", path, "' already holds a run (", run,
                 "): continue it with --resume, replace it with --overwrite (deletes its "
                 "config.json, metrics.jsonl and checkpoints), or choose another --out");
    }
    if (use == FolderUse::Overwrite && !old.empty()) {
      remove_files(path, old);
      std::string list;
      for (const std::string& n : old)
        list += (list.empty() ? "" : ", ") + n;
      std::fprintf(log, "--overwrite: deleted %zu files of the old run in %s: %s\n", old.size(),
                   path.c_str(), list.c_str());
    }
  } catch (...) {
    ::close(lock_fd_);
    throw;
  }
}

RunFolder::~RunFolder() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

}  // namespace loom::imdb
