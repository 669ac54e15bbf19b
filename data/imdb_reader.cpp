// data/imdb_reader.cpp: aclImdb from a folder (std::filesystem), a .tar.gz in memory (gunzip.h +
// tar_reader.h) or any other archive (libarchive, streaming). See imdb_reader.h.
#include "data/imdb_reader.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <tuple>

#include "data/gunzip.h"
#include "data/parallel.h"
#include "data/tar_reader.h"
#include "data/utf8.h"
#include "tensor/error.h"

namespace fs = std::filesystem;

namespace loom::data {

// A review found while reading: its metadata, and its text as a view into the inflated tar or
// as an index into the owned texts (a view into a growing vector of strings would dangle).
struct detail::FoundReview {
  TextExample ex;
  std::string_view view;
  int64_t owned = -1;
};

namespace {

using Found = detail::FoundReview;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Parses a decimal number that fills all of `s`; false when `s` is empty, has a non-digit or
// would overflow.
bool parse_decimal(std::string_view s, long long* v) {
  if (s.empty() || s.size() > 18) return false;
  *v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    *v = *v * 10 + (c - '0');
  }
  return true;
}

// If `rel` (a path inside the dataset, '/'-separated) is a labelled review file, fills split,
// label, id and rating and returns true. Names like train/pos/x.txt that are not <id>_<rating>
// throw: a corrupt dataset should not silently lose reviews.
bool parse_review_path(std::string_view rel, const ImdbReadOptions& options,
                       const std::string& where, TextExample* ex) {
  // The last three components: <split>/<pos|neg>/<file> (empty components, as in "a//b", are
  // skipped like the folder walk would).
  std::string_view parts[3];
  int found = 0;
  size_t end = rel.size();
  while (found < 3 && end > 0) {
    const size_t slash = rel.rfind('/', end - 1);
    const size_t begin = slash == std::string_view::npos ? 0 : slash + 1;
    if (end > begin) parts[2 - found++] = rel.substr(begin, end - begin);
    if (slash == std::string_view::npos) break;
    end = slash;
  }
  if (found < 3) return false;
  const std::string_view split = parts[0], label = parts[1], file = parts[2];
  if ((split != "train" && split != "test") || (label != "pos" && label != "neg")) return false;
  if (file.size() < 4 || file.substr(file.size() - 4) != ".txt") return false;
  if (split == "train" && !options.train) return false;
  if (split == "test" && !options.test) return false;
  const std::string_view stem = file.substr(0, file.size() - 4);
  const size_t us = stem.find('_');
  long long id = -1, rating = -1;
  const bool ok = us != std::string_view::npos && parse_decimal(stem.substr(0, us), &id) &&
                  parse_decimal(stem.substr(us + 1), &rating) && rating >= 1 && rating <= 10;
  LOOM_CHECK(ok, "read_aclimdb: '", where, "': review file '", rel,
             "' is not named <id>_<rating>.txt with a rating 1..10");
  ex->split = split == "train" ? Split::Train : Split::Test;
  ex->label = label == "pos" ? 1.0f : 0.0f;
  ex->id = id;
  ex->rating = static_cast<int>(rating);
  return true;
}

std::tuple<Split, float, int64_t> canonical_key(const TextExample& ex) {
  return {ex.split, ex.label, ex.id};  // Train < Test, neg (0) < pos (1), then id
}

// Refuses a review over kMaxReviewBytes, naming the dataset and the review.
void check_review_size(uint64_t size, std::string_view review, const std::string& where) {
  LOOM_CHECK(size <= kMaxReviewBytes, "read_aclimdb: '", where, "': review '", review, "' has ",
             size, " bytes, more than the largest review read (", kMaxReviewBytes >> 20,
             " MiB): a corrupt or hostile dataset");
}

std::string read_file(const fs::path& p, std::string_view rel, const std::string& where) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(p, ec);
  LOOM_CHECK(!ec, "read_aclimdb: cannot read the size of '", p.string(), "': ", ec.message());
  check_review_size(size, rel, where);
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(p.c_str(), "rb"), &std::fclose);
  LOOM_CHECK(f != nullptr, "read_aclimdb: cannot open '", p.string(), "'");
  std::string data;
  data.reserve(static_cast<size_t>(size));
  char buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    data.append(buf, got);
    check_review_size(data.size(), rel, where);  // the file may have grown since
  }
  LOOM_CHECK(!std::ferror(f.get()), "read_aclimdb: read error in '", p.string(), "'");
  return data;
}

void collect_folder(const fs::path& root, const ImdbReadOptions& options, std::vector<Found>& found,
                    std::vector<std::string>& owned) {
  fs::path base = root;
  if (fs::is_directory(root / "aclImdb")) base = root / "aclImdb";
  for (const char* split : {"train", "test"}) {
    for (const char* label : {"pos", "neg"}) {
      const fs::path dir = base / split / label;
      if (!fs::is_directory(dir)) continue;
      for (const auto& entry : fs::directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        const std::string rel =
            std::string(split) + "/" + label + "/" + entry.path().filename().string();
        Found f;
        if (!parse_review_path(rel, options, root.string(), &f.ex)) continue;
        f.owned = static_cast<int64_t>(owned.size());
        owned.push_back(read_file(entry.path(), rel, root.string()));
        found.push_back(std::move(f));
      }
    }
  }
}

// One entry's data from libarchive, in chunks as they arrive: the size its header claims is
// checked (against the review limit and, for an uncompressed archive, the bytes left in the file)
// but never allocated up front.
std::string read_entry_data(archive* a, archive_entry* entry, uint64_t bytes_left,
                            const std::string& path) {
  const char* name = archive_entry_pathname(entry);
  if (archive_entry_size_is_set(entry)) {
    const la_int64_t claimed = archive_entry_size(entry);
    LOOM_CHECK(claimed >= 0 && static_cast<uint64_t>(claimed) <= bytes_left,
               "read_aclimdb: corrupt archive '", path, "': entry '", name, "' claims ", claimed,
               " bytes but the archive holds only ", bytes_left, " more (truncated or corrupt)");
    check_review_size(static_cast<uint64_t>(claimed), name, path);
  }
  std::string text;
  char chunk[1 << 16];
  for (;;) {
    const la_ssize_t got = archive_read_data(a, chunk, sizeof chunk);
    LOOM_CHECK(got >= 0, "read_aclimdb: corrupt archive '", path, "' at '", name,
               "': ", archive_error_string(a));
    if (got == 0) break;
    text.append(chunk, static_cast<size_t>(got));
    check_review_size(text.size(), name, path);  // a wrong or absent size in the header
  }
  return text;
}

// Any archive libarchive can read (.tar, multi-member or >= 4 GiB .tar.gz, ...), streamed from
// `bytes` (the whole file, already in memory).
void collect_streaming(std::string_view bytes, const std::string& path,
                       const ImdbReadOptions& options, std::vector<Found>& found,
                       std::vector<std::string>& owned) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), &archive_read_free);
  LOOM_CHECK(a != nullptr, "read_aclimdb: libarchive could not allocate a reader");
  archive_read_support_filter_all(a.get());
  archive_read_support_format_all(a.get());
  LOOM_CHECK(archive_read_open_memory(a.get(), bytes.data(), bytes.size()) == ARCHIVE_OK,
             "read_aclimdb: cannot open archive '", path, "': ", archive_error_string(a.get()));
  archive_entry* entry = nullptr;
  for (;;) {
    const int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    LOOM_CHECK(r == ARCHIVE_OK || r == ARCHIVE_WARN, "read_aclimdb: corrupt archive '", path,
               "': ", archive_error_string(a.get()));
    if (archive_entry_filetype(entry) != AE_IFREG) continue;
    Found f;
    if (!parse_review_path(archive_entry_pathname(entry), options, path, &f.ex)) continue;
    // Uncompressed, an entry cannot hold more than the file has left after its header; a
    // compressed stream can (gzip expands up to ~1000x), so there only the review limit holds.
    const bool plain = archive_filter_code(a.get(), 0) == ARCHIVE_FILTER_NONE;
    const la_int64_t at = archive_read_header_position(a.get());
    const uint64_t left = plain && at >= 0 && static_cast<uint64_t>(at) <= bytes.size()
                              ? bytes.size() - static_cast<uint64_t>(at)
                              : UINT64_MAX;
    f.owned = static_cast<int64_t>(owned.size());
    owned.push_back(read_entry_data(a.get(), entry, left, path));
    found.push_back(std::move(f));
  }
}

// The fast path's walk: one 512-byte header per entry, the reviews' bytes are not touched.
void collect_tar(std::string_view tar, const std::string& path, const ImdbReadOptions& options,
                 std::vector<Found>& found) {
  TarReader reader(tar, path);
  TarEntry entry;
  try {
    while (reader.next(entry)) {
      Found f;
      if (!entry.is_file() || !parse_review_path(entry.path, options, path, &f.ex)) continue;
      check_review_size(entry.data.size(), entry.path, path);
      f.view = entry.data;
      found.push_back(std::move(f));
    }
  } catch (const Error& e) {
    LOOM_FAIL("read_aclimdb: ", e.what());
  }
}

}  // namespace

ImdbArchive::ImdbArchive(const std::string& path, const ImdbReadOptions& options) {
  LOOM_CHECK(!path.empty(), "read_aclimdb: empty path");
  std::error_code ec;
  LOOM_CHECK(fs::exists(path, ec), "read_aclimdb: '", path, "' does not exist");
  if (!fs::is_directory(path, ec)) {
    LOOM_CHECK(ends_with(path, ".tar.gz") || ends_with(path, ".tgz") || ends_with(path, ".tar"),
               "read_aclimdb: '", path, "' is neither a folder nor a .tar.gz/.tgz/.tar archive");
    ByteBuffer file;
    try {
      file = read_whole_file(path);
    } catch (const Error& e) {
      LOOM_FAIL("read_aclimdb: ", e.what());
    }
    *this = from_bytes(std::move(file), path, options);
    return;
  }
  std::vector<Found> found;
  collect_folder(path, options, found, owned_);
  keep(found, path);
}

ImdbArchive ImdbArchive::from_bytes(ByteBuffer file, const std::string& path,
                                    const ImdbReadOptions& options) {
  ImdbArchive archive;
  std::vector<Found> found;
  bool inflated = false;
  try {
    // A single-member gzip under 4 GiB (aclImdb is one): inflate it whole. Anything else
    // (a plain .tar, multi-member gzip, ...) is left to libarchive.
    inflated = gunzip_whole(file.view(), path, &archive.tar_);
  } catch (const Error& e) {
    LOOM_FAIL("read_aclimdb: ", e.what());
  }
  if (inflated) {
    file = ByteBuffer();  // the compressed bytes are no longer needed
    collect_tar(archive.tar_.view(), path, options, found);
  } else {
    collect_streaming(file.view(), path, options, found, archive.owned_);
  }
  archive.keep(found, path);
  return archive;
}

void ImdbArchive::keep(std::vector<Found>& found, const std::string& path) {
  LOOM_CHECK(!found.empty(), "read_aclimdb: no reviews found in '", path,
             "' (expected [aclImdb/]{train,test}/{pos,neg}/<id>_<rating>.txt)");
  // Stable: a (split, label, id) that appears twice keeps the order it had on disk.
  std::stable_sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return canonical_key(a.ex) < canonical_key(b.ex);
  });
  examples_.reserve(found.size());
  texts_.reserve(found.size());
  for (Found& f : found) {
    texts_.push_back(f.owned >= 0 ? std::string_view(owned_[static_cast<size_t>(f.owned)])
                                  : f.view);
    examples_.push_back(std::move(f.ex));
  }
}

void sort_imdb_examples(std::vector<TextExample>& examples) {
  std::stable_sort(examples.begin(), examples.end(),
                   [](const TextExample& a, const TextExample& b) {
                     return canonical_key(a) < canonical_key(b);
                   });
}

std::vector<TextExample> read_aclimdb(const std::string& path, const ImdbReadOptions& options) {
  const ImdbArchive archive(path, options);
  std::vector<TextExample> out = archive.examples();
  parallel_chunks(archive.size(), options.threads, [&](int64_t begin, int64_t end, int64_t) {
    for (int64_t i = begin; i < end; ++i) {
      TextExample& ex = out[static_cast<size_t>(i)];
      ex.text.assign(archive.text(i));
      sanitize_utf8_inplace(ex.text);
      if (options.transform) options.transform(ex);
    }
  });
  return out;
}

}  // namespace loom::data
