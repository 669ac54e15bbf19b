// data/readers.cpp: extension-based dispatch to the dataset readers (see readers.h).
#include "data/readers.h"

#include <filesystem>

#include "data/csv.h"
#include "data/fasttext.h"
#include "data/imdb_reader.h"
#include "tensor/error.h"

namespace loom::data {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

std::vector<TextExample> read_text_dataset(const std::string& path, int64_t max_rows) {
  std::error_code ec;
  LOOM_CHECK(!path.empty() && std::filesystem::exists(path, ec), "read_text_dataset: '", path,
             "' does not exist");
  if (std::filesystem::is_directory(path, ec) || ends_with(path, ".tar.gz") ||
      ends_with(path, ".tgz") || ends_with(path, ".tar")) {
    return read_aclimdb(path);
  }
  std::vector<TextExample> out;
  if (ends_with(path, ".csv") || ends_with(path, ".csv.gz") || ends_with(path, ".csv.bz2")) {
    out = read_imdb_csv(path);
  } else {
    for_each_fasttext(path, [&](TextExample& ex) {
      out.push_back(std::move(ex));
      return max_rows <= 0 || static_cast<int64_t>(out.size()) < max_rows;
    });
  }
  LOOM_CHECK(!out.empty(), "read_text_dataset: no examples in '", path, "'");
  return out;
}

}  // namespace loom::data
