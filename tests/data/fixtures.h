// tests/data/fixtures.h: tiny on-disk fixtures for the data tests (temp dirs, files, tarballs)
// and a watchdog so a concurrency bug fails the test instead of hanging ctest.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <bzlib.h>
#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tensor/error.h"

namespace loom::data::testing {

namespace fs = std::filesystem;

// One bzip2 stream (libbz2); block_100k = 1 makes a new block every 100 kB of input.
inline std::string bzip2(const std::string& text, int block_100k = 9) {
  std::string out(text.size() + text.size() / 50 + 1024, '\0');
  auto n = static_cast<unsigned>(out.size());
  EXPECT_EQ(BZ2_bzBuffToBuffCompress(out.data(), &n, const_cast<char*>(text.data()),
                                     static_cast<unsigned>(text.size()), block_100k, 0, 0),
            BZ_OK);
  out.resize(n);
  return out;
}

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "loom-data-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) std::abort();
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string str(const std::string& rel = "") const {
    return rel.empty() ? path_.string() : (path_ / rel).string();
  }

 private:
  fs::path path_;
};

inline void write_file(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << p;
}

// Writes a gzip-compressed ustar archive holding `files` (path, content) in the given order.
inline void write_tar_gz(const std::string& path,
                         const std::vector<std::pair<std::string, std::string>>& files) {
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK) << archive_error_string(a);
  for (const auto& [name, content] : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    if (!content.empty()) {
      ASSERT_EQ(archive_write_data(a, content.data(), content.size()),
                static_cast<la_ssize_t>(content.size()));
    }
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

// Runs fn on a thread; if it has not finished after `seconds`, fails loudly and exits the
// process (a hung std::thread cannot be cancelled, and ctest must not hang).
inline void run_with_timeout(double seconds, const std::function<void()>& fn) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::thread t([&] {
    try {
      fn();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "run_with_timeout: uncaught exception: " << e.what();
    }
    std::lock_guard<std::mutex> lock(m);
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(m);
  if (!cv.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return done; })) {
    std::fprintf(stderr, "run_with_timeout: still running after %.1f s: deadlock?\n", seconds);
    std::fflush(stderr);
    std::_Exit(3);
  }
  lock.unlock();
  t.join();
}

// Expects `fn` to throw loom::Error whose message contains every string in `parts`.
template <typename F>
void expect_error(F&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected loom::Error containing '" << (parts.empty() ? "" : parts[0]) << "'";
  } catch (const loom::Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

}  // namespace loom::data::testing
