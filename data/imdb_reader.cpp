// data/imdb_reader.cpp: aclImdb from a folder (std::filesystem) or a tarball (libarchive).
#include "data/imdb_reader.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "data/parallel.h"
#include "data/utf8.h"
#include "tensor/error.h"

namespace fs = std::filesystem;

namespace loom::data {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// If `rel` (a path inside the dataset, '/'-separated) is a labelled review file, fills split,
// label, id and rating and returns true. Names like train/pos/x.txt that are not <id>_<rating>
// throw: a corrupt dataset should not silently lose reviews.
bool parse_review_path(const std::string& rel, const ImdbReadOptions& options,
                       const std::string& where, TextExample* ex) {
  // The last three components: <split>/<pos|neg>/<file>.
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    if (end > start) parts.push_back(rel.substr(start, end - start));
    start = end + 1;
  }
  if (parts.size() < 3) return false;
  const std::string& split = parts[parts.size() - 3];
  const std::string& label = parts[parts.size() - 2];
  const std::string& file = parts.back();
  if ((split != "train" && split != "test") || (label != "pos" && label != "neg")) return false;
  if (!ends_with(file, ".txt")) return false;
  if (split == "train" && !options.train) return false;
  if (split == "test" && !options.test) return false;
  long long id = -1;
  int rating = -1;
  char tail = 0;
  const bool ok = std::sscanf(file.c_str(), "%lld_%d.tx%c", &id, &rating, &tail) == 3 &&
                  tail == 't' && id >= 0 && rating >= 1 && rating <= 10;
  LOOM_CHECK(ok, "read_aclimdb: '", where, "': review file '", rel,
             "' is not named <id>_<rating>.txt with a rating 1..10");
  ex->split = split == "train" ? Split::Train : Split::Test;
  ex->label = label == "pos" ? 1.0f : 0.0f;
  ex->id = id;
  ex->rating = rating;
  return true;
}

// Receives examples from the reading thread. Without workers it sanitizes and transforms them
// inline; with workers, the reader hands over chunks of 64 and the workers do that work while
// the reader decompresses the next ones. Order is irrelevant: read_aclimdb sorts at the end.
class ExampleSink {
 public:
  explicit ExampleSink(const ImdbReadOptions& options) : transform_(options.transform) {
    const int workers = transform_ ? resolve_threads(options.threads) - 1 : 0;
    results_.resize(static_cast<size_t>(workers) + 1);
    for (int w = 0; w < workers; ++w)
      workers_.emplace_back([this, w] { work(w + 1); });
  }
  ExampleSink(const ExampleSink&) = delete;
  ExampleSink& operator=(const ExampleSink&) = delete;
  ~ExampleSink() { join(); }  // also reached when the reader throws

  void push(TextExample&& ex) {
    if (workers_.empty()) {
      prepare(ex);
      results_[0].push_back(std::move(ex));
      return;
    }
    pending_.push_back(std::move(ex));
    if (pending_.size() == 64) hand_over();
  }

  // Waits for the workers; re-throws the first transform error.
  std::vector<TextExample> finish() {
    if (!pending_.empty()) hand_over();
    join();
    if (error_) std::rethrow_exception(error_);
    std::vector<TextExample> all = std::move(results_[0]);
    for (size_t w = 1; w < results_.size(); ++w)
      for (auto& ex : results_[w])
        all.push_back(std::move(ex));
    return all;
  }

 private:
  void prepare(TextExample& ex) const {
    sanitize_utf8_inplace(ex.text);
    if (transform_) transform_(ex);
  }

  void hand_over() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(pending_));
    }
    pending_ = {};
    ready_.notify_one();
  }

  void join() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    ready_.notify_all();
    for (auto& t : workers_)
      if (t.joinable()) t.join();
  }

  void work(int w) {
    for (;;) {
      std::vector<TextExample> chunk;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return done_ || !queue_.empty(); });
        if (queue_.empty()) return;  // done and drained
        chunk = std::move(queue_.front());
        queue_.pop_front();
      }
      try {
        for (auto& ex : chunk)
          prepare(ex);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      auto& out = results_[static_cast<size_t>(w)];
      for (auto& ex : chunk)
        out.push_back(std::move(ex));
    }
  }

  std::function<void(TextExample&)> transform_;
  std::vector<TextExample> pending_;  // reader side, not yet handed over
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::vector<TextExample>> queue_;
  bool done_ = false;
  std::exception_ptr error_;
  std::vector<std::vector<TextExample>> results_;  // [0]: inline; [w]: worker w's output
  std::vector<std::thread> workers_;
};

std::string read_file(const fs::path& p) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(p.c_str(), "rb"), &std::fclose);
  LOOM_CHECK(f != nullptr, "read_aclimdb: cannot open '", p.string(), "'");
  std::string data;
  char buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f.get())) > 0)
    data.append(buf, got);
  LOOM_CHECK(!std::ferror(f.get()), "read_aclimdb: read error in '", p.string(), "'");
  return data;
}

std::vector<TextExample> read_folder(const fs::path& root, const ImdbReadOptions& options) {
  fs::path base = root;
  if (fs::is_directory(root / "aclImdb")) base = root / "aclImdb";
  ExampleSink out(options);
  for (const char* split : {"train", "test"}) {
    for (const char* label : {"pos", "neg"}) {
      const fs::path dir = base / split / label;
      if (!fs::is_directory(dir)) continue;
      for (const auto& entry : fs::directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        const std::string rel =
            std::string(split) + "/" + label + "/" + entry.path().filename().string();
        TextExample ex;
        if (!parse_review_path(rel, options, root.string(), &ex)) continue;
        ex.text = read_file(entry.path());
        out.push(std::move(ex));
      }
    }
  }
  return out.finish();
}

std::vector<TextExample> read_tarball(const std::string& path, const ImdbReadOptions& options) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), &archive_read_free);
  LOOM_CHECK(a != nullptr, "read_aclimdb: libarchive could not allocate a reader");
  archive_read_support_filter_all(a.get());
  archive_read_support_format_all(a.get());
  LOOM_CHECK(archive_read_open_filename(a.get(), path.c_str(), 1 << 20) == ARCHIVE_OK,
             "read_aclimdb: cannot open archive '", path, "': ", archive_error_string(a.get()));
  ExampleSink out(options);
  archive_entry* entry = nullptr;
  for (;;) {
    const int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    LOOM_CHECK(r == ARCHIVE_OK || r == ARCHIVE_WARN, "read_aclimdb: corrupt archive '", path,
               "': ", archive_error_string(a.get()));
    if (archive_entry_filetype(entry) != AE_IFREG) continue;
    TextExample ex;
    if (!parse_review_path(archive_entry_pathname(entry), options, path, &ex)) continue;
    const la_int64_t size = archive_entry_size(entry);
    if (size > 0) ex.text.resize(static_cast<size_t>(size));
    size_t have = 0;
    char spill[4096];  // reads past the header's size (wrong or absent) land here first
    for (;;) {
      const bool in_place = have < ex.text.size();
      char* dst = in_place ? &ex.text[have] : spill;
      const size_t room = in_place ? ex.text.size() - have : sizeof spill;
      const la_ssize_t got = archive_read_data(a.get(), dst, room);
      LOOM_CHECK(got >= 0, "read_aclimdb: corrupt archive '", path, "' at '",
                 archive_entry_pathname(entry), "': ", archive_error_string(a.get()));
      if (got == 0) break;
      if (!in_place) {
        ex.text.resize(have);
        ex.text.append(spill, static_cast<size_t>(got));
      }
      have += static_cast<size_t>(got);
    }
    ex.text.resize(have);
    out.push(std::move(ex));
  }
  return out.finish();
}

}  // namespace

void sort_imdb_examples(std::vector<TextExample>& examples) {
  std::sort(examples.begin(), examples.end(), [](const TextExample& a, const TextExample& b) {
    if (a.split != b.split) return a.split < b.split;  // Train < Test
    if (a.label != b.label) return a.label < b.label;  // neg < pos
    return a.id < b.id;
  });
}

std::vector<TextExample> read_aclimdb(const std::string& path, const ImdbReadOptions& options) {
  LOOM_CHECK(!path.empty(), "read_aclimdb: empty path");
  std::error_code ec;
  LOOM_CHECK(fs::exists(path, ec), "read_aclimdb: '", path, "' does not exist");
  std::vector<TextExample> out;
  if (fs::is_directory(path, ec)) {
    out = read_folder(path, options);
  } else {
    LOOM_CHECK(ends_with(path, ".tar.gz") || ends_with(path, ".tgz") || ends_with(path, ".tar"),
               "read_aclimdb: '", path, "' is neither a folder nor a .tar.gz/.tgz/.tar archive");
    out = read_tarball(path, options);
  }
  LOOM_CHECK(!out.empty(), "read_aclimdb: no reviews found in '", path,
             "' (expected [aclImdb/]{train,test}/{pos,neg}/<id>_<rating>.txt)");
  sort_imdb_examples(out);
  return out;
}

}  // namespace loom::data
