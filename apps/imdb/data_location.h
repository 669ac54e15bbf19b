// apps/imdb/data_location.h: where the IMDB reviews are, when the user did not say.
//
// Order: --data PATH; else $LOOM_IMDB_DATA; else ../shared/data/aclImdb_v1_labeled.tar.gz
// relative to the working directory, then relative to the source tree the program was built from
// (a cluster job often runs from elsewhere), then .cache/data/aclImdb_v1.tar.gz in the source tree
// (where fetch_data.sh downloads to). If none exists, the error says how to get the data:
// apps/imdb/fetch_data.sh downloads the official aclImdb_v1.tar.gz where the network allows.
// Left out: downloading from inside the program (a training binary should not need the network).
#pragma once

#include <string>

namespace loom::imdb {

// The dataset path to read, made absolute (config.json records it, and a run resumed from
// another directory must find the same data). Throws loom::Error (naming the flag or variable) when
// the given path does not exist or when nothing was given and no default location holds the
// archive.
std::string locate_data(const std::string& flag_value);

}  // namespace loom::imdb
