// apps/imdb/data_location.cpp: see data_location.h.
#include "apps/imdb/data_location.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "tensor/error.h"

#ifndef LOOM_SOURCE_DIR
#define LOOM_SOURCE_DIR "."
#endif

namespace loom::imdb {

namespace {
namespace fs = std::filesystem;

// Absolute, so that config.json and the checkpoints name the data wherever a resume, eval or
// predict is started from.
std::string absolute(const std::string& path) {
  std::error_code ec;
  const fs::path p = fs::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}
}  // namespace

std::string locate_data(const std::string& flag_value) {
  if (!flag_value.empty()) {
    LOOM_CHECK(fs::exists(flag_value), "--data: '", flag_value,
               "' does not exist (give an aclImdb folder, a .tar.gz, a .csv or a fastText file)");
    return absolute(flag_value);
  }
  // LOOM_IMDB is the spelling fetch_data.sh's message used; both are accepted.
  for (const char* var : {"LOOM_IMDB_DATA", "LOOM_IMDB"}) {
    const char* env = std::getenv(var);
    if (env == nullptr || *env == '\0') continue;
    LOOM_CHECK(fs::exists(env), var, ": '", env, "' does not exist");
    return absolute(env);
  }
  const std::string rel = "../shared/data/aclImdb_v1_labeled.tar.gz";
  const std::vector<std::string> candidates = {
      rel, std::string(LOOM_SOURCE_DIR) + "/" + rel,
      // where apps/imdb/fetch_data.sh puts it
      std::string(LOOM_SOURCE_DIR) + "/.cache/data/aclImdb_v1.tar.gz"};
  for (const std::string& c : candidates)
    if (fs::exists(c)) return absolute(c);
  LOOM_FAIL(
      "no dataset found: pass --data PATH (an aclImdb folder, .tar.gz, .csv or fastText "
      "file) or set LOOM_IMDB_DATA; looked for ",
      candidates[0], " and ", candidates[1],
      ". To download the official archive (84 MB), run apps/imdb/fetch_data.sh");
}

}  // namespace loom::imdb
