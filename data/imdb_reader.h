// data/imdb_reader.h: the Stanford aclImdb dataset, from its folder or straight from the .tar.gz.
//
// Layout: [aclImdb/]{train,test}/{pos,neg}/<id>_<rating>.txt, one review per file, rating 1..10
// (pos >= 7, neg <= 4). train/unsup (unlabelled) and the other files (README, imdb.vocab, ...) are
// skipped. The result is sorted by (split: train first, label: neg first, id), so it is the same
// whatever order the directory listing or the archive had.
// Bad input: a missing path, a path that is neither a folder nor a .tar.gz/.tgz, a corrupt
// archive, a folder/archive with no reviews, or a review file whose name is not <id>_<rating>.txt
// (rating 1..10) all throw loom::Error naming the path. Empty review files are kept (they encode
// to a row of padding); invalid UTF-8 is replaced with U+FFFD (utf8.h); there is no size limit on
// a review.
// Reading is one thread (gzip is sequential); see ImdbReadOptions::transform for overlapping it
// with per-review work.
// Left out: the unsup split, the URL and bag-of-words files.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "data/example.h"

namespace loom::data {

struct ImdbReadOptions {
  bool train = true;  // read train/{pos,neg}
  bool test = true;   // read test/{pos,neg}
  // Applied to every example right after it is read (e.g. replace ex.text by its cleaned form,
  // see encode.h's clean_transform). With threads > 1, threads - 1 workers run the UTF-8 check
  // and the transform while the calling thread keeps decompressing, so cleaning overlaps reading.
  // The result is the same for any thread count. The transform must be thread-safe.
  std::function<void(TextExample&)> transform;
  int threads = 1;  // <= 0: all hardware threads
};

// `path`: the aclImdb folder, its parent, or a .tar.gz / .tgz of it.
std::vector<TextExample> read_aclimdb(const std::string& path, const ImdbReadOptions& options = {});

// Sorts examples by (split, label, id): the canonical aclImdb order.
void sort_imdb_examples(std::vector<TextExample>& examples);

}  // namespace loom::data
