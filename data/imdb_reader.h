// data/imdb_reader.h: the Stanford aclImdb dataset, from its folder or straight from the .tar.gz.
//
// Layout: [aclImdb/]{train,test}/{pos,neg}/<id>_<rating>.txt, one review per file, rating 1..10
// (pos >= 7, neg <= 4); train/unsup and the other files (README, imdb.vocab, ...) are skipped.
// Reviews come sorted by (split: train first, label: neg first, id), whatever order the folder
// or the archive had. A single-member .tar.gz under 4 GiB (aclImdb's) is inflated whole and
// walked in memory, and ImdbArchive hands out views of the reviews; other archives stream through
// libarchive and a folder is read file by file, both copying the texts (docs/labs/05-data.md).
// Bad input throws loom::Error naming the path (and the entry, for a corrupt tar): a missing
// path, one that is neither a folder nor a .tar.gz/.tgz/.tar, a corrupt or truncated archive,
// no reviews, a review file not named <id>_<rating>.txt (rating 1..10). Empty reviews are kept.
// No size a header claims is trusted (data/README.md, "Hostile archives").
// Left out: the unsup split, the URL and bag-of-words files, a cap on the total size of a
// compressed archive's texts (many small reviews can still expand ~1000x, as gzip allows).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "data/big_buffer.h"
#include "data/example.h"

namespace loom::data {

// The largest review read (16 MiB; aclImdb's largest is 14 KB): a larger one is a corrupt or
// hostile archive, refused with a message naming it.
constexpr size_t kMaxReviewBytes = size_t{16} << 20;

struct ImdbReadOptions {
  bool train = true;  // read train/{pos,neg}
  bool test = true;   // read test/{pos,neg}
  // read_aclimdb only: applied to every example after its text is copied and made valid UTF-8
  // (e.g. replace ex.text by its cleaned form, see encode.h's clean_transform). It runs on
  // `threads` threads, each on a contiguous range of the sorted examples, so the result is the
  // same for any thread count. The transform must be thread-safe.
  std::function<void(TextExample&)> transform;
  int threads = 1;  // read_aclimdb's copy + UTF-8 check + transform; <= 0: all hardware threads
};

namespace detail {
struct FoundReview;  // a review met while reading (imdb_reader.cpp)
}

// The reviews of an aclImdb folder or archive, with their texts left in place: the input of
// tokenize_texts (token_corpus.h) without a copy of 100 MB of text.
class ImdbArchive {
 public:
  // `path`: the aclImdb folder, its parent, or a .tar.gz / .tgz / .tar of it. Reads everything
  // (options.transform and options.threads are not used here).
  explicit ImdbArchive(const std::string& path, const ImdbReadOptions& options = {});

  // The same from the bytes of an archive file already in memory (.tar.gz, .tgz or .tar; what
  // the path constructor does after reading the file). `where` names it in errors. The fuzz
  // target tests/fuzz/fuzz_tar.cpp feeds it hostile bytes.
  static ImdbArchive from_bytes(ByteBuffer file, const std::string& where,
                                const ImdbReadOptions& options = {});

  int64_t size() const { return static_cast<int64_t>(examples_.size()); }
  // Label, id, rating and split of every review, in canonical order; their `text` is empty.
  const std::vector<TextExample>& examples() const { return examples_; }
  // Review i's bytes exactly as stored: NOT yet checked for valid UTF-8 (TextPipeline does that,
  // read_aclimdb does it with sanitize_utf8). Valid as long as the ImdbArchive lives.
  std::string_view text(int64_t i) const { return texts_[static_cast<size_t>(i)]; }

 private:
  ImdbArchive() = default;
  // Sorts `found` into canonical order and keeps it (texts_ view tar_ or owned_).
  void keep(std::vector<detail::FoundReview>& found, const std::string& path);

  ByteBuffer tar_;                       // the inflated archive (fast path); empty otherwise
  std::vector<std::string> owned_;       // texts read by the other paths
  std::vector<TextExample> examples_;    // [size] canonical order, text empty
  std::vector<std::string_view> texts_;  // [size] views into tar_ or owned_
};

// The reviews with their text copied, made valid UTF-8 (invalid bytes -> U+FFFD, utf8.h) and
// transformed (options.transform).
std::vector<TextExample> read_aclimdb(const std::string& path, const ImdbReadOptions& options = {});

// Sorts examples by (split, label, id): the canonical aclImdb order.
void sort_imdb_examples(std::vector<TextExample>& examples);

}  // namespace loom::data
