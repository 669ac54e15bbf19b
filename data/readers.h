// data/readers.h: pick the right reader from a path, for programs that take `--data PATH`.
//
//   a folder, *.tar.gz, *.tgz, *.tar   -> read_aclimdb (imdb_reader.h)
//   *.csv, *.csv.gz, *.csv.bz2          -> read_imdb_csv (csv.h)
//   anything else                      -> fastText (fasttext.h), loaded whole up to max_rows
// Compressed files (.bz2, .gz) are decompressed on the way in (byte_stream.h).
// Left out: sniffing the content instead of trusting the extension.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/example.h"

namespace loom::data {

// max_rows (> 0) caps how many fastText lines are kept; 0 keeps all. Throws for a missing path
// or an empty dataset, naming the path.
std::vector<TextExample> read_text_dataset(const std::string& path, int64_t max_rows = 0);

}  // namespace loom::data
